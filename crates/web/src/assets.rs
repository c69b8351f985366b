//! Static files, compiled into the binary: htmx and ECharts from npm (see
//! build.rs) and the console's own CSS and scripts. URLs carry a content
//! hash, so browsers may cache them for a year; gzip copies are made once.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
    /// First 16 hex digits of the SHA-256: the `?v=` of its URL.
    hash: String,
    gzip: Vec<u8>,
}

const FILES: [(&str, &str, &[u8]); 5] = [
    ("htmx.min.js", "text/javascript", include_bytes!(concat!(env!("OUT_DIR"), "/vendor/htmx.min.js"))),
    ("echarts.min.js", "text/javascript", include_bytes!(concat!(env!("OUT_DIR"), "/vendor/echarts.min.js"))),
    ("console.css", "text/css", include_bytes!("../static/console.css")),
    ("console.js", "text/javascript", include_bytes!("../static/console.js")),
    ("board.js", "text/javascript", include_bytes!("../static/board.js")),
];

fn all() -> &'static [Asset] {
    static ALL: OnceLock<Vec<Asset>> = OnceLock::new();
    ALL.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, mime, body)| {
                use std::io::Write;
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                gz.write_all(body).expect("gzip into memory");
                let hash: String = Sha256::digest(body).iter().take(8).map(|b| format!("{b:02x}")).collect();
                Asset { name, mime, body, hash, gzip: gz.finish().expect("gzip into memory") }
            })
            .collect()
    })
}

/// The URL of a static file, with its content hash.
pub fn url(name: &str) -> String {
    match all().iter().find(|a| a.name == name) {
        Some(a) => format!("/static/{}?v={}", a.name, a.hash),
        None => format!("/static/{name}"),
    }
}

/// Bytes of a static file as sent gzip-compressed: the board's page weight.
pub fn compressed_size(name: &str) -> usize {
    all().iter().find(|a| a.name == name).map_or(0, |a| a.gzip.len())
}

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = all().iter().find(|a| a.name == name) else { return StatusCode::NOT_FOUND.into_response() };
    let gzip = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("gzip"));
    let mut resp = if gzip { a.gzip.clone().into_response() } else { a.body.into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}
