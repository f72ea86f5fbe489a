//! A list's export as CSV or Excel, streamed: the list's rows arrive in
//! batches (a keyset page each) and leave as bytes at once, so a month of a
//! big city never sits in memory. Headers are the page's language; money is
//! yuan with two decimals (CSV: the digits; Excel: a number in `0.00`, from
//! the same digits). An error mid-way cuts the file short (and is logged):
//! the status line has gone already.

use std::future::Future;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::{Stream, StreamExt as _};
use onepark_web::xlsx::{Cell, Xlsx};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// `?format=` of a list page: `csv`, `xlsx`, or the page itself.
    pub(super) fn parse(text: &str) -> Option<Format> {
        match text {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// What the file is: its name (without extension), sheet name, headers and
/// column widths (characters).
pub(super) struct Sheet {
    pub name: String,
    pub title: String,
    pub headers: Vec<&'static str>,
    pub widths: Vec<u32>,
}

enum Writer {
    Csv,
    Xlsx(Box<Xlsx>),
}

/// The answer: `batches` written as `format`, as they come.
pub(super) fn respond<S>(format: Format, sheet: Sheet, batches: S) -> Response
where
    S: Stream<Item = Result<Vec<Vec<Cell>>, StoreError>> + Send + 'static,
{
    let (writer, head) = match format {
        Format::Csv => {
            (Writer::Csv, (onepark_web::csv::BOM.to_owned() + &onepark_web::csv::row(&sheet.headers)).into_bytes())
        }
        Format::Xlsx => {
            let (x, head) = Xlsx::start(&sheet.title, &sheet.headers, &sheet.widths);
            (Writer::Xlsx(Box::new(x)), head)
        }
    };
    let body = futures_util::stream::once(async move { Ok::<_, StoreError>(Bytes::from(head)) }).chain(
        futures_util::stream::unfold(Some((writer, Box::pin(batches))), |step| async move {
            let (mut writer, mut batches) = step?;
            match batches.next().await {
                Some(Ok(rows)) => {
                    let mut out = Vec::new();
                    match &mut writer {
                        Writer::Csv => rows.iter().for_each(|r| out.extend_from_slice(csv_row(r).as_bytes())),
                        Writer::Xlsx(x) => {
                            for r in &rows {
                                if !x.row(&mut out, r) {
                                    tracing::warn!("export cut at Excel's row limit");
                                    break;
                                }
                            }
                        }
                    }
                    Some((Ok(Bytes::from(out)), Some((writer, batches))))
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "export failed");
                    Some((Err(e), None))
                }
                None => match writer {
                    Writer::Csv => None,
                    Writer::Xlsx(x) => {
                        let mut out = Vec::new();
                        x.finish(&mut out);
                        Some((Ok(Bytes::from(out)), None))
                    }
                },
            }
        }),
    );
    let (extension, content_type) = match format {
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Xlsx => ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    };
    // The name in ASCII for every client, and in UTF-8 (RFC 6266) for those that read it.
    let ascii: String = sheet.name.chars().filter(char::is_ascii_alphanumeric).collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}.{extension}\"; filename*=UTF-8''{}.{extension}",
        encode(&sheet.name).replace('+', "%20")
    );
    (
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(body),
    )
        .into_response()
}

/// A list's rows in batches by key: `fetch` reads a batch of at most
/// `limit` for the query, `advance` moves the query past a batch's last row,
/// `row` writes a row's cells. Ends after a short batch.
pub(super) fn keyset<Q, R, F, Fut>(
    state: AppState,
    query: Q,
    limit: i64,
    fetch: F,
    advance: fn(&mut Q, &R),
    row: impl Fn(&R) -> Vec<Cell> + Send + Sync + 'static,
) -> impl Stream<Item = Result<Vec<Vec<Cell>>, StoreError>> + Send
where
    Q: Send + 'static,
    R: Send + 'static,
    F: Fn(AppState, Q) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (Q, Result<Vec<R>, StoreError>)> + Send,
{
    let (fetch, row) = (Arc::new(fetch), Arc::new(row));
    futures_util::stream::unfold(Some((state, query)), move |step| {
        let (fetch, row) = (fetch.clone(), row.clone());
        async move {
            let (state, query) = step?;
            let (mut query, result) = fetch(state.clone(), query).await;
            match result {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let done = (rows.len() as i64) < limit;
                    if let Some(last) = rows.last() {
                        advance(&mut query, last);
                    }
                    Some((Ok(rows.iter().map(|r| row(r)).collect()), (!done).then_some((state, query))))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
}

/// A list page's address with its filters (the empty ones left out), page and format.
pub(super) fn list_link(path: &str, filters: &[(&str, &str)], page: i64, format: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in filters.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    if page > 0 {
        q.append_pair("page", &page.to_string());
    }
    if !format.is_empty() {
        q.append_pair("format", format);
    }
    format!("{path}?{}", q.finish())
}

fn csv_row(cells: &[Cell]) -> String {
    let texts: Vec<String> = cells
        .iter()
        .map(|c| match c {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Fen(fen) => onepark_domain::money::yuan(*fen),
            Cell::Empty => String::new(),
        })
        .collect();
    onepark_web::csv::row(&texts)
}
