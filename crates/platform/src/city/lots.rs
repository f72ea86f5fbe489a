//! Which lot a parking code belongs to, whatever its protocol: a leaf, so
//! every part of the city's logic may ask.

use std::sync::Arc;

use crate::config::LotAccess;
use crate::state::AppState;
use crate::store::StoreError;

/// The lot a parking code belongs to.
pub async fn lot_of(state: &AppState, parking_code: &str) -> Result<Option<Arc<LotAccess>>, StoreError> {
    if let Some(lot) = state.lot_of_code(parking_code) {
        return Ok(Some(lot));
    }
    match state.store().access_of(parking_code).await? {
        Some(access_id) => state.any_lot(&access_id).await,
        None => Ok(state
            .store()
            .cloud_lot_of(parking_code)
            .await?
            .map(|p| Arc::new(LotAccess::cloudpark(&p.pid, p.park_codes)))),
    }
}
