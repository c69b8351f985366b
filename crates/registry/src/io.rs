//! Reading and writing registry files.
//!
//! CSV: one file per record type, named `regions.csv`, `units.csv`,
//! `contacts.csv`, `assets.csv` (a directory may hold any of them).
//! JSON: one document `{"format": "shouwang-registry", "version": 1,
//! "regions": [..], "units": [..], "contacts": [..], "assets": [..]}` whose
//! objects use the CSV column names. Both are read whole, so a file is
//! checked entirely before anything is applied; a size limit keeps a 10 GB
//! file from being read at all.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::bundle::{Bundle, ImportError};
use crate::model::FieldError;
use crate::records::*;

pub const JSON_FORMAT: &str = "shouwang-registry";
pub const JSON_VERSION: u64 = 1;

/// Reading limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 256 * 1024 * 1024 }
    }
}

/// Which record type a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    Regions,
    Units,
    Contacts,
    Assets,
}

impl RecordType {
    pub const ALL: [RecordType; 4] = [RecordType::Regions, RecordType::Units, RecordType::Contacts, RecordType::Assets];

    pub fn key(self) -> &'static str {
        match self {
            RecordType::Regions => "regions",
            RecordType::Units => "units",
            RecordType::Contacts => "contacts",
            RecordType::Assets => "assets",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            RecordType::Regions => REGION_COLUMNS,
            RecordType::Units => UNIT_COLUMNS,
            RecordType::Contacts => CONTACT_COLUMNS,
            RecordType::Assets => ASSET_COLUMNS,
        }
    }

    /// From a file name such as `units.csv` or `units-2026.csv`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| name.starts_with(t.key()))
    }
}

fn file_error(file: &Arc<str>, line: u64, reason: impl Into<String>) -> ImportError {
    ImportError { origin: Origin { file: file.clone(), loc: Loc::Line(line) }, field: None, reason: reason.into() }
}

/// Reads a registry import from a `.json` file, a `.csv` file, or a directory of CSV files.
pub fn read_path(path: &Path, limits: Limits) -> Result<Bundle, Vec<ImportError>> {
    let display: Arc<str> = path.display().to_string().into();
    if path.is_dir() {
        let mut bundle = Bundle::default();
        let mut errs = Vec::new();
        let mut found = false;
        for t in RecordType::ALL {
            let p = path.join(format!("{}.csv", t.key()));
            if p.exists() {
                found = true;
                match read_file(&p, limits) {
                    Ok(bytes) => read_csv(p.display().to_string().into(), &bytes, t, &mut bundle, &mut errs),
                    Err(e) => errs.push(e),
                }
            }
        }
        if !found {
            errs.push(file_error(&display, 0, "directory holds none of regions.csv, units.csv, contacts.csv, assets.csv"));
        }
        return if errs.is_empty() { Ok(bundle) } else { Err(errs) };
    }
    let bytes = read_file(path, limits).map_err(|e| vec![e])?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.ends_with(".json") {
        read_json(display, &bytes)
    } else {
        let t = RecordType::from_file_name(name).ok_or_else(|| {
            vec![file_error(&display, 0, "cannot tell the record type: name the file regions.csv, units.csv, contacts.csv or assets.csv")]
        })?;
        let mut bundle = Bundle::default();
        let mut errs = Vec::new();
        read_csv(display, &bytes, t, &mut bundle, &mut errs);
        if errs.is_empty() { Ok(bundle) } else { Err(errs) }
    }
}

/// Reads a whole file, refusing one over the limit before reading it.
pub fn read_file(path: &Path, limits: Limits) -> Result<Vec<u8>, ImportError> {
    let display: Arc<str> = path.display().to_string().into();
    let f = std::fs::File::open(path).map_err(|e| file_error(&display, 0, format!("cannot open: {e}")))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limits.max_bytes {
        return Err(file_error(&display, 0, format!("file is {len} bytes, over the import limit of {} bytes", limits.max_bytes)));
    }
    read_limited(&display, f, limits)
}

/// Reads at most `max_bytes` from a stream (stdin, an HTTP body).
pub fn read_limited(name: &Arc<str>, r: impl Read, limits: Limits) -> Result<Vec<u8>, ImportError> {
    let mut buf = Vec::new();
    r.take(limits.max_bytes + 1).read_to_end(&mut buf).map_err(|e| file_error(name, 0, format!("cannot read: {e}")))?;
    if buf.len() as u64 > limits.max_bytes {
        return Err(file_error(name, 0, format!("input is over the import limit of {} bytes", limits.max_bytes)));
    }
    Ok(buf)
}

struct CsvRow<'a> {
    index: &'a HashMap<String, usize>,
    rec: &'a csv::ByteRecord,
}

impl Row for CsvRow<'_> {
    fn get(&self, field: &'static str) -> Result<Option<Cow<'_, str>>, FieldError> {
        let Some(&i) = self.index.get(field) else { return Ok(None) };
        let bytes = self.rec.get(i).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(Cow::Borrowed(csv_unquote(s)))),
            Err(e) => Err(format!(
                "is not valid UTF-8 (bad byte at offset {}); save the file as UTF-8 (Excel: \"CSV UTF-8\"; GBK/GB18030 is not accepted)",
                e.valid_up_to()
            )),
        }
    }
}

/// Parses one CSV file of record type `t` into `bundle`, errors into `errs`.
pub fn read_csv(file: Arc<str>, bytes: &[u8], t: RecordType, bundle: &mut Bundle, errs: &mut Vec<ImportError>) {
    // Excel writes a UTF-8 byte-order mark; it is not part of the first column's name.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let header = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return errs.push(file_error(&file, 1, format!("cannot read the header: {e}"))),
    };
    let Some(index) = check_header(&file, &header, t.columns(), errs) else { return };
    mark_section(t, bundle);
    let mut rec = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("has {len} fields, the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                errs.push(file_error(&file, line, reason));
                // A broken quote can swallow the rest; stop rather than guess.
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    break;
                }
                continue;
            }
        }
        let line = rec.position().map_or(line, |p| p.line());
        if rec.iter().all(|f| f.is_empty()) {
            continue; // blank line
        }
        let origin = Origin { file: file.clone(), loc: Loc::Line(line) };
        push_row(t, &CsvRow { index: &index, rec: &rec }, origin, bundle, errs);
    }
}

fn check_header(file: &Arc<str>, header: &csv::ByteRecord, cols: &[Column], errs: &mut Vec<ImportError>) -> Option<HashMap<String, usize>> {
    let mut index = HashMap::new();
    let before = errs.len();
    for (i, raw) in header.iter().enumerate() {
        let Ok(name) = std::str::from_utf8(raw) else {
            errs.push(file_error(file, 1, format!("column {} name is not valid UTF-8", i + 1)));
            continue;
        };
        let name = name.trim();
        if !cols.iter().any(|c| c.name == name) {
            let known: Vec<_> = cols.iter().map(|c| c.name).collect();
            errs.push(file_error(file, 1, format!("unknown column `{name}` (known: {})", known.join(", "))));
        } else if index.insert(name.to_string(), i).is_some() {
            errs.push(file_error(file, 1, format!("column `{name}` appears twice")));
        }
    }
    for c in cols.iter().filter(|c| c.required) {
        if !index.contains_key(c.name) {
            errs.push(file_error(file, 1, format!("missing required column `{}`", c.name)));
        }
    }
    (errs.len() == before).then_some(index)
}

fn mark_section(t: RecordType, bundle: &mut Bundle) {
    match t {
        RecordType::Contacts => bundle.has_contacts = true,
        RecordType::Assets => bundle.has_assets = true,
        _ => {}
    }
}

fn push_row(t: RecordType, row: &dyn Row, origin: Origin, bundle: &mut Bundle, errs: &mut Vec<ImportError>) {
    let err = |(field, reason): RowError| ImportError { origin: origin.clone(), field: Some(field.to_string()), reason };
    let res = match t {
        RecordType::Regions => Region::from_row(row).map(|r| bundle.regions.push((origin.clone(), r))),
        RecordType::Units => Unit::from_row(row).map(|r| bundle.units.push((origin.clone(), r))),
        RecordType::Contacts => Contact::from_row(row).map(|r| bundle.contacts.push((origin.clone(), r))),
        RecordType::Assets => Asset::from_row(row).map(|r| bundle.assets.push((origin.clone(), r))),
    };
    if let Err(e) = res {
        errs.push(err(e));
    }
}

struct JsonRow<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl Row for JsonRow<'_> {
    fn get(&self, field: &'static str) -> Result<Option<Cow<'_, str>>, FieldError> {
        use serde_json::Value;
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
            Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
            Some(Value::Bool(b)) => Ok(Some(Cow::Borrowed(if *b { "true" } else { "false" }))),
            Some(_) => Err("must be a string, number or boolean".into()),
        }
    }
}

/// Parses a JSON registry document.
pub fn read_json(file: Arc<str>, bytes: &[u8]) -> Result<Bundle, Vec<ImportError>> {
    use serde_json::Value;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // serde_json stops at 128 levels of nesting, so a hostile document
    // cannot exhaust the stack; its error names line and column.
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| vec![file_error(&file, e.line() as u64, format!("invalid JSON: {e}"))])?;
    let Value::Object(top) = doc else {
        return Err(vec![file_error(&file, 1, "the document must be a JSON object")]);
    };
    let mut errs = Vec::new();
    let top_err = |reason: String| file_error(&file, 0, reason);
    match top.get("format") {
        Some(Value::String(f)) if f == JSON_FORMAT => {}
        _ => errs.push(top_err(format!("`format` must be \"{JSON_FORMAT}\""))),
    }
    match top.get("version").and_then(Value::as_u64) {
        Some(JSON_VERSION) => {}
        _ => errs.push(top_err(format!("`version` must be {JSON_VERSION}"))),
    }
    for k in top.keys() {
        if !matches!(k.as_str(), "format" | "version") && RecordType::ALL.iter().all(|t| t.key() != k) {
            errs.push(top_err(format!("unknown key `{k}`")));
        }
    }
    let mut bundle = Bundle::default();
    for t in RecordType::ALL {
        let items = match top.get(t.key()) {
            None => continue,
            Some(Value::Array(a)) => a,
            Some(_) => {
                errs.push(top_err(format!("`{}` must be an array", t.key())));
                continue;
            }
        };
        mark_section(t, &mut bundle);
        let file: Arc<str> = format!("{file}:{}", t.key()).into();
        for (i, item) in items.iter().enumerate() {
            let origin = Origin { file: file.clone(), loc: Loc::Record(i) };
            let Value::Object(map) = item else {
                errs.push(ImportError::new(&origin, None, "must be an object"));
                continue;
            };
            if let Some(k) = map.keys().find(|k| t.columns().iter().all(|c| c.name != k.as_str())) {
                errs.push(ImportError::new(&origin, Some(k), "unknown field"));
                continue;
            }
            push_row(t, &JsonRow(map), origin, &mut bundle, &mut errs);
        }
    }
    if errs.is_empty() { Ok(bundle) } else { Err(errs) }
}

/// Writes rows of one record type as CSV with the documented header.
pub fn write_csv<W: std::io::Write>(w: W, t: RecordType, rows: impl Iterator<Item = Vec<Cell>>) -> std::io::Result<()> {
    let mut wtr = csv::Writer::from_writer(w);
    wtr.write_record(t.columns().iter().map(|c| c.name))?;
    for row in rows {
        wtr.write_record(row.iter().map(|c| c.to_csv().into_owned()))?;
    }
    wtr.flush()
}

/// The CSV rows of one record type of a bundle.
pub fn rows(bundle: &Bundle, t: RecordType) -> Box<dyn Iterator<Item = Vec<Cell>> + '_> {
    match t {
        RecordType::Regions => Box::new(bundle.regions.iter().map(|(_, r)| r.to_row())),
        RecordType::Units => Box::new(bundle.units.iter().map(|(_, r)| r.to_row())),
        RecordType::Contacts => Box::new(bundle.contacts.iter().map(|(_, r)| r.to_row())),
        RecordType::Assets => Box::new(bundle.assets.iter().map(|(_, r)| r.to_row())),
    }
}

/// Writes `regions.csv`, `units.csv`, `contacts.csv`, `assets.csv` into `dir`.
pub fn write_csv_dir(bundle: &Bundle, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for t in RecordType::ALL {
        let f = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{}.csv", t.key())))?);
        write_csv(f, t, rows(bundle, t))?;
    }
    Ok(())
}

/// The JSON document for a bundle, pretty-printed with one record per object.
pub fn to_json(bundle: &Bundle) -> serde_json::Value {
    let mut top = serde_json::Map::new();
    top.insert("format".into(), JSON_FORMAT.into());
    top.insert("version".into(), JSON_VERSION.into());
    for t in RecordType::ALL {
        let items: Vec<serde_json::Value> = rows(bundle, t)
            .map(|row| {
                let obj: serde_json::Map<_, _> =
                    t.columns().iter().zip(row).filter_map(|(c, cell)| cell.to_json().map(|v| (c.name.to_string(), v))).collect();
                obj.into()
            })
            .collect();
        top.insert(t.key().into(), items.into());
    }
    top.into()
}

/// The column reference of every record type, as Markdown: printed by
/// `shouwang registry schema` and embedded in docs/registry-format.md
/// (a test keeps the two identical).
pub fn schema_markdown() -> String {
    let mut s = String::new();
    for t in RecordType::ALL {
        s.push_str(&format!("### `{}.csv` / `\"{}\"`\n\n| column | required | type | meaning |\n|---|---|---|---|\n", t.key(), t.key()));
        for c in t.columns() {
            let ty = match c.ty {
                ColumnType::Text => "text",
                ColumnType::Int => "integer",
                ColumnType::Bool => "true/false",
            };
            s.push_str(&format!("| `{}` | {} | {ty} | {} |\n", c.name, if c.required { "yes" } else { "" }, c.doc.replace('|', "\\|")));
        }
        s.push('\n');
    }
    s
}
