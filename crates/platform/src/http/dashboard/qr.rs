//! A lane's QR code, printable (`/lots/{code}/qr?lane=A1&dir=in|out`): the
//! entrance code lets a no-plate driver in, the exit code lets them pay and
//! out (a Bolink lot's `/pay/in|out/{park_id}/{lane}`). The code is drawn
//! by onepark (`onepark_web::qr`), nothing is fetched.

use super::*;

#[derive(Deserialize)]
pub(super) struct QrQuery {
    lane: String,
    dir: Option<String>,
}

/// The driver page a lane's code opens.
pub fn lane_url(public_url: &str, park_id: &str, lane: &str, exit: bool) -> String {
    // A path segment: a space is %20 there (form encoding's `+` would be a plus).
    let enc = |t: &str| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>().replace('+', "%20");
    format!("{public_url}/pay/{}/{}/{}", if exit { "out" } else { "in" }, enc(park_id), enc(lane))
}

/// The code of `url`: a PNG (8 pixels a module) or SVG text's bytes.
pub fn lane_code(url: &str, png: bool) -> Result<Vec<u8>, String> {
    if png {
        onepark_web::qr::png(url, 8).map_err(|e| e.to_string())
    } else {
        onepark_web::qr::svg(url).map(String::into_bytes).map_err(|e| e.to_string())
    }
}

pub(super) async fn qr(
    State(state): State<AppState>,
    v: Viewer,
    Path(code): Path<String>,
    Query(q): Query<QrQuery>,
) -> Result<Response, Refused> {
    v.check(Need::Read, &code)?;
    let lang = v.lang;
    let exit = q.dir.as_deref() == Some("out");
    let lane = q.lane.trim().to_owned();
    let lot = match state.store().access_of(&code).await? {
        Some(access_id) => state.lot(&access_id).await?,
        None => None,
    };
    let lot = lot.filter(|l| l.protocol() == onepark_domain::record::Protocol::Bolink);
    let Some(lot) = lot.filter(|_| !lane.is_empty() && lane.chars().count() <= 24) else {
        let body = html! { div.card { p { (lang.t("该车场不支持车道二维码，或车道编号无效。", "This lot has no lane codes, or the lane id is invalid.")) } } };
        return Ok((StatusCode::NOT_FOUND, reply(&v, "404", "", body)).into_response());
    };
    let url = lane_url(state.public_url(), &lot.access_id, &lane, exit);
    let Ok(svg) = onepark_web::qr::svg(&url) else {
        let body = html! { div.card { p { (lang.t("二维码生成失败：地址过长。", "The code could not be drawn: the address is too long.")) } } };
        return Ok((StatusCode::BAD_REQUEST, reply(&v, "400", "", body)).into_response());
    };
    let name = state.store().lot_name(&code).await?.unwrap_or(code.clone());
    let title = if exit {
        lang.t("扫码出场缴费", "Scan to pay and exit")
    } else {
        lang.t("无牌车扫码入场", "No plate? Scan to enter")
    };
    let body = html! {
        div.card.qr-sheet id="qr" {
            h1 { (title) }
            p { (name) " · " (if exit { lang.t("出口 ", "exit ") } else { lang.t("入口 ", "entrance ") }) strong { (lane) } }
            div.qr { (maud::PreEscaped(svg)) }
            p.muted.url { (url) }
            p.noprint { button.button type="button" onclick="window.print()" { (lang.t("打印", "Print")) } }
        }
    };
    Ok(reply(&v, title, "", body))
}
