//! The records' history (`/records`): every stay of the city (or of the
//! viewer's lots) by date range, lot, a part of the plate (confusable
//! characters folded: `B55298` finds `鲁855298`), inside or gone, in the
//! order asked, paged; exported as CSV or Excel with the same filters.

use chrono::NaiveDateTime;
use onepark_web::xlsx::Cell;

use super::export::{Format, Sheet, keyset, list_link};
use super::*;
use crate::store::{Stay, StayQuery, StaySort, StayState};

const PAGE_SIZES: [i64; 3] = [50, 100, 200];
/// Rows fetched per round of an export.
const EXPORT_BATCH: i64 = 2000;

#[derive(Deserialize, Default)]
pub(super) struct RecordsParams {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    lot: String,
    #[serde(default)]
    plate: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    page: i64,
    #[serde(default)]
    format: String,
}

/// A day (yyyy-MM-dd) as the start of that day, or of the next.
pub(super) fn day_start(text: &str, next: bool) -> Result<String, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ())?;
    let day = if next { day.succ_opt().ok_or(())? } else { day };
    Ok(format!("{day} 00:00:00"))
}

/// A list's date range (yyyy-MM-dd, either may be empty) as stored times,
/// half-open; else the page saying the dates are wrong (400).
pub(super) fn date_range(
    v: &Viewer,
    from: &str,
    to: &str,
    title: &str,
    here: &str,
) -> Result<(String, String), Box<Response>> {
    match (day_start(from, false), day_start(to, true)) {
        (Ok(from), Ok(to)) => Ok((from, to)),
        _ => {
            let lang = v.lang;
            let body =
                html! { div.notice.bad id="notice" { (lang.t("日期格式应为 yyyy-MM-dd", "Dates are yyyy-MM-dd")) } };
            let mut response = reply(v, title, here, body);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Err(Box::new(response))
        }
    }
}

/// How long a stay lasted (or has lasted, up to `now`), as people say it.
pub(super) fn duration(lang: Lang, from: &str, to: Option<&str>, now: NaiveDateTime) -> String {
    let (Ok(a), b) = (onepark_domain::time::parse_time(from), to.map(onepark_domain::time::parse_time)) else {
        return String::new();
    };
    let b = match b {
        Some(Ok(b)) => b,
        Some(Err(_)) => return String::new(),
        None => now,
    };
    let minutes = (b - a).num_minutes().max(0);
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (lang, d) {
        (Lang::Zh, 0) => format!("{h}小时{m:02}分"),
        (Lang::Zh, _) => format!("{d}天{h}小时{m:02}分"),
        (_, 0) => format!("{h} h {m:02} min"),
        _ => format!("{d} d {h} h {m:02} min"),
    }
}

fn minutes(from: &str, to: Option<&str>) -> Option<i64> {
    let a = onepark_domain::time::parse_time(from).ok()?;
    let b = onepark_domain::time::parse_time(to?).ok()?;
    Some((b - a).num_minutes())
}

pub(super) async fn records(
    State(state): State<AppState>,
    v: Viewer,
    Query(p): Query<RecordsParams>,
) -> Result<Response, Refused> {
    let lang = v.lang;
    let (from, to) = match date_range(&v, &p.from, &p.to, lang.t("停车记录", "Records"), "/records") {
        Ok(range) => range,
        Err(page) => return Ok(*page),
    };
    let lot = p.lot.trim().to_owned();
    if !lot.is_empty() {
        v.check(Need::Read, &lot)?;
    }
    let size = if PAGE_SIZES.contains(&p.size) { p.size } else { PAGE_SIZES[0] };
    let page = p.page.clamp(0, 100_000);
    let plate = p.plate.trim().chars().filter(|c| !c.is_whitespace() && *c != '-' && *c != '·').collect::<String>();
    let query = StayQuery {
        lots: v.who.lot_filter(),
        parking_code: lot.clone(),
        plate_part: plate.clone(),
        from,
        to,
        state: match p.state.as_str() {
            "inside" => StayState::Inside,
            "left" => StayState::Left,
            _ => StayState::All,
        },
        sort: match p.sort.as_str() {
            "oldest" => StaySort::Oldest,
            "fee" => StaySort::Fee,
            _ => StaySort::Newest,
        },
        after: None,
        limit: size + 1,
        offset: page * size,
    };
    if let Some(format) = Format::parse(&p.format) {
        return Ok(export(state, lang, format, query));
    }
    let mut stays = state.store().stays(&query).await?;
    let more = stays.len() as i64 > size;
    stays.truncate(size as usize);
    let lots = lot_choices(&state, &v).await?;
    let now = state.now();
    let typed = plate.to_uppercase();
    let size_text = if size == PAGE_SIZES[0] { String::new() } else { size.to_string() };
    let filters = [
        ("from", p.from.as_str()),
        ("to", &p.to),
        ("lot", &p.lot),
        ("plate", &p.plate),
        ("state", &p.state),
        ("sort", &p.sort),
        ("size", &size_text),
    ];
    let link = |page: i64, format: &str| list_link("/records", &filters, page, format);
    let body = html! {
        h1 { (lang.t("停车记录", "Parking records")) }
        div.card {
            form.inline method="get" action="/records" id="records-filter" {
                label.field { (lang.t("入场从", "Entered from")) input type="date" name="from" value=(p.from); }
                label.field { (lang.t("到", "to")) input type="date" name="to" value=(p.to); }
                label.field { (lang.t("车场", "Lot")) select name="lot" {
                    option value="" { (if v.who.city_wide() { lang.t("全部车场", "every lot") } else { lang.t("我的全部车场", "all my lots") }) }
                    @for (code, name) in &lots { option value=(code) selected[*code == lot] { (name) } }
                } }
                label.field { (lang.t("车牌（可输入部分）", "Plate (or a part)")) input name="plate" value=(p.plate) placeholder="B55298"; }
                label.field { (lang.t("状态", "State")) select name="state" {
                    option value="" { (lang.t("全部", "all")) }
                    option value="inside" selected[p.state == "inside"] { (lang.t("在场", "inside")) }
                    option value="left" selected[p.state == "left"] { (lang.t("已离场", "left")) }
                } }
                label.field { (lang.t("排序", "Order")) select name="sort" {
                    option value="" { (lang.t("入场时间（新→旧）", "newest first")) }
                    option value="oldest" selected[p.sort == "oldest"] { (lang.t("入场时间（旧→新）", "oldest first")) }
                    option value="fee" selected[p.sort == "fee"] { (lang.t("应收金额（高→低）", "highest fee first")) }
                } }
                label.field { (lang.t("每页", "Per page")) select name="size" {
                    @for s in PAGE_SIZES { option value=(s) selected[s == size] { (s) } }
                } }
                button type="submit" { (lang.t("查询", "Search")) }
            }
            p.exports {
                (lang.t("导出当前条件下的全部记录：", "Export every record of this search: "))
                a.button.secondary href=(link(0, "xlsx")) id="export-xlsx" { "Excel" } " "
                a.button.secondary href=(link(0, "csv")) id="export-csv" { "CSV" }
            }
        }
        div.card.mt {
            @if stays.is_empty() { p.empty id="no-records" { (lang.t("没有符合条件的记录", "No record matches")) } }
            @else { div.scroll { table id="records" {
                thead { tr {
                    th { (lang.t("车场", "Lot")) } th { (lang.t("车牌", "Plate")) } th { (lang.t("入场", "Entered")) }
                    th { (lang.t("出场", "Left")) } th { (lang.t("时长", "Stay")) } th.num { (lang.t("应收", "Due")) }
                } }
                tbody { @for s in &stays {
                    tr data-uid=(s.uid) data-code=(s.parking_code) {
                        td { a href=(format!("/lots/{}", encode(&s.parking_code))) { (s.lot_name.as_deref().unwrap_or(&s.parking_code)) } }
                        td.plate {
                            a href=(format!("/plates?plate={}", encode(&s.plate_no))) { (s.plate_no) }
                            @if !typed.is_empty() && !s.plate_no.contains(&typed) { " " span.badge.warn title=(lang.t("易混字符匹配", "matched with confusable characters")) { (lang.t("近似", "similar")) } }
                            @if s.deleted { " " span.badge.off { (lang.t("已删除", "deleted")) } }
                        }
                        td { (s.arrive_time) }
                        td { @match &s.end_time { Some(t) => (t), None => span.badge.ok { (lang.t("在场", "inside")) } } }
                        td.muted { (duration(lang, &s.arrive_time, s.end_time.as_deref(), now)) }
                        td.num { (s.should_pay.map(yuan).unwrap_or_default()) }
                    }
                } }
            } } }
            p.pager {
                @if page > 0 { a href=(link(page - 1, "")) id="records-prev" { (lang.t("上一页", "Previous")) } " " }
                span.muted { (lang.t("第 ", "Page ")) (page + 1) (lang.t(" 页", "")) } " "
                @if more { a href=(link(page + 1, "")) id="records-next" { (lang.t("下一页", "Next")) } }
            }
        }
    };
    Ok(reply(&v, lang.t("停车记录", "Records"), "/records", body))
}

/// The lots a viewer may pick, by name: (code, "name（code）").
pub(super) async fn lot_choices(state: &AppState, v: &Viewer) -> Result<Vec<(String, String)>, StoreError> {
    let names: BTreeMap<String, Option<String>> = {
        let mut names = BTreeMap::new();
        for s in state.store().lot_statuses().await? {
            names.insert(s.parking_code, None);
        }
        for p in state.store().parking_infos().await? {
            if let Some(name) = names.get_mut(&p.parking_code) {
                *name = p.name;
            }
        }
        names
    };
    Ok(names
        .into_iter()
        .filter(|(code, _)| v.who.sees(code))
        .map(|(code, name)| {
            let label = name.map_or_else(|| code.clone(), |n| format!("{n}（{code}）"));
            (code, label)
        })
        .collect())
}

fn export(state: AppState, lang: Lang, format: Format, mut query: StayQuery) -> Response {
    // An export is the whole search in time order (newest first), page by page by key.
    query.sort = StaySort::Newest;
    query.offset = 0;
    query.limit = EXPORT_BATCH;
    let zh = lang == Lang::Zh;
    let sheet = Sheet {
        name: format!(
            "{}-{}",
            if zh { "停车记录" } else { "records" },
            format_time(state.now()).get(..10).unwrap_or("")
        ),
        title: lang.t("停车记录", "Records").to_owned(),
        headers: if zh {
            vec![
                "车场编号",
                "车场名称",
                "车牌",
                "车牌颜色",
                "入场时间",
                "出场时间",
                "停车时长（分钟）",
                "应收（元）",
                "状态",
                "记录编号",
            ]
        } else {
            vec![
                "lot",
                "lot name",
                "plate",
                "plate colour",
                "entered",
                "left",
                "minutes",
                "due (yuan)",
                "state",
                "record id",
            ]
        },
        widths: vec![14, 20, 12, 8, 20, 20, 10, 10, 8, 24],
    };
    let batches = keyset(
        state,
        query,
        EXPORT_BATCH,
        |state: AppState, q: StayQuery| async move {
            let rows = state.store().stays(&q).await;
            (q, rows)
        },
        |q, s: &Stay| q.after = Some((s.arrive_time.clone(), s.parking_code.clone(), s.uid.clone())),
        move |s| row(lang, s),
    );
    super::export::respond(format, sheet, batches)
}

fn row(lang: Lang, s: &Stay) -> Vec<Cell> {
    let text = |t: &str| Cell::Text(t.to_owned());
    let state = match (&s.end_time, s.deleted) {
        (_, true) => lang.t("已删除", "deleted"),
        (Some(_), _) => lang.t("已离场", "left"),
        (None, _) => lang.t("在场", "inside"),
    };
    vec![
        text(&s.parking_code),
        text(s.lot_name.as_deref().unwrap_or("")),
        text(&s.plate_no),
        Cell::Int(s.plate_color),
        text(&s.arrive_time),
        text(s.end_time.as_deref().unwrap_or("")),
        minutes(&s.arrive_time, s.end_time.as_deref()).map_or(Cell::Empty, Cell::Int),
        s.should_pay.map_or(Cell::Empty, Cell::Fen),
        text(state),
        text(&s.uid),
    ]
}
