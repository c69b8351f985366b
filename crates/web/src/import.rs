//! Registry import from the console: the same CSV files (`regions.csv`,
//! `units.csv`, `contacts.csv`, `assets.csv`) or JSON document that
//! `shouwang registry import` and the API take. "Preview" runs the import
//! as a dry run and shows the diff; "Apply" sends the same files again and
//! commits them. Stateless: the browser keeps the chosen files, so what is
//! applied is exactly what was previewed, checked again against the
//! registry as it is then. All or nothing, as everywhere.

use askama::Template;
use axum::extract::{Multipart, State};
use shouwang_registry::io::{RecordType, read_csv, read_json};
use shouwang_registry::{Bundle, ImportError};
use shouwang_store::{ImportOutcome, Perm};

use crate::Web;
use crate::frame::{Frame, OrPage, PageError, PageResult, Viewer, render};

/// Items listed per kind of change; the counts cover all of them.
const SHOWN: usize = 50;

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    f: Frame,
}

#[derive(Template)]
#[template(path = "import_result.html")]
struct ResultPart {
    t: &'static crate::i18n::Catalog,
    files: Vec<String>,
    errors: Vec<String>,
    out: Option<ImportOutcome>,
}

impl ResultPart {
    fn first<'a, T>(&self, v: &'a [T]) -> &'a [T] {
        &v[..v.len().min(SHOWN)]
    }

    fn count(&self, key: &str, n: &usize) -> String {
        self.t.tf(key, &[("n", &n)])
    }
}

pub async fn page(v: Viewer) -> PageResult {
    v.principal().require(Perm::WriteRegistry).or_page(&v)?;
    Ok(render(&ImportPage { f: v.frame(v.t.t("import.title")) }))
}

/// Reads the uploaded files into one bundle: CSV files by their name, a JSON
/// document whole. Every rejected record is kept with its file and line.
fn bundle_of(files: &[(String, Vec<u8>)]) -> Result<Bundle, Vec<String>> {
    let mut bundle = Bundle::default();
    let mut errs: Vec<ImportError> = Vec::new();
    let mut unknown = Vec::new();
    if let [(name, bytes)] = files
        && name.to_ascii_lowercase().ends_with(".json")
    {
        return read_json(name.as_str().into(), bytes).map_err(|e| e.iter().map(ToString::to_string).collect());
    }
    for (name, bytes) in files {
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".csv").unwrap_or(&lower);
        match RecordType::ALL.into_iter().find(|t| t.key() == stem) {
            Some(t) => read_csv(name.as_str().into(), bytes, t, &mut bundle, &mut errs),
            None => unknown.push(format!("{name}: not regions.csv, units.csv, contacts.csv or assets.csv (a .json document comes alone)")),
        }
    }
    let mut all: Vec<String> = unknown;
    all.extend(errs.iter().map(ToString::to_string));
    if all.is_empty() { Ok(bundle) } else { Err(all) }
}

pub async fn run(State(w): State<Web>, v: Viewer, mut form: Multipart) -> PageResult {
    v.principal().require(Perm::WriteRegistry).or_page(&v)?;
    let (mut files, mut reason, mut apply, mut total) = (Vec::new(), String::new(), false, 0usize);
    let part = |files: Vec<String>, errors: Vec<String>, out: Option<ImportOutcome>| Ok(render(&ResultPart { t: v.t, files, errors, out }));
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return part(Vec::new(), vec![e.body_text()], None),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file = field.file_name().map(str::to_string);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return part(Vec::new(), vec![e.body_text()], None),
        };
        total += bytes.len();
        if total > w.app.max_import_bytes {
            return part(Vec::new(), vec![v.t.tf("import.too_large", &[("max", &w.app.max_import_bytes)])], None);
        }
        match (name.as_str(), file) {
            ("files", Some(f)) if !bytes.is_empty() => files.push((f, bytes.to_vec())),
            ("reason", _) => reason = String::from_utf8_lossy(&bytes).trim().to_string(),
            ("mode", _) => apply = &bytes[..] == b"apply",
            _ => {}
        }
    }
    let names: Vec<String> = files.iter().map(|(n, b)| format!("{n} ({} B)", b.len())).collect();
    if files.is_empty() {
        return part(names, vec![v.t.t("import.no_files").into()], None);
    }
    if reason.is_empty() {
        return part(names, vec![v.t.t("import.no_reason").into()], None);
    }
    let bundle = match tokio::task::spawn_blocking(move || bundle_of(&files)).await {
        Ok(Ok(b)) => b,
        Ok(Err(errors)) => return part(names, errors, None),
        Err(e) => return Err(PageError::internal(v.t, e)),
    };
    let out = w.app.store.import(v.principal(), &bundle, &reason, !apply).await.or_page(&v)?;
    if out.applied {
        w.app.attributor.refresh().await.or_page(&v)?;
    }
    let errors = out.errors.clone();
    part(names, errors, Some(out))
}
