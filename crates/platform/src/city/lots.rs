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

/// Every lot of the city, whatever its protocol: the configured ones, those
/// registered at run time, the cloud's lots (by login, each once).
pub async fn every_lot(state: &AppState) -> Result<Vec<Arc<LotAccess>>, StoreError> {
    let mut lots: std::collections::BTreeMap<String, Arc<LotAccess>> = std::collections::BTreeMap::new();
    for stored in state.store().lots().await? {
        if let Ok(lot) = LotAccess::try_from(stored) {
            lots.insert(lot.access_id.clone(), Arc::new(lot));
        }
    }
    for p in state.store().principals().await? {
        if p.kind == crate::store::PrincipalKind::Lot {
            lots.entry(p.pid.clone()).or_insert_with(|| Arc::new(LotAccess::cloudpark(&p.pid, p.park_codes)));
        }
    }
    for lot in state.configured_lots() {
        lots.insert(lot.access_id.clone(), lot);
    }
    Ok(lots.into_values().collect())
}
