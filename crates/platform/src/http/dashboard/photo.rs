//! A record's photo (`/photos/{code}/{photo_id}`), from its content-addressed file.

use super::*;

pub(super) async fn photo(
    State(state): State<AppState>,
    v: Viewer,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, Refused> {
    v.check(Need::Read, &code)?;
    let Some(sha) = state.store().photo_sha(&code, &id).await? else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    Ok(match tokio::fs::read(crate::photo::path(state.photo_dir(), &sha)).await {
        Ok(jpeg) => onepark_serve::pages::jpeg(jpeg),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    })
}
