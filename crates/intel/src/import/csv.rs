//! CSV indicator lists: a header row naming the columns, then one indicator
//! per row. `type` and `value` are required; `source`, `confidence` (0–100),
//! `tlp`, `valid_from`, `valid_until` (RFC 3339 or a date) and `tags`
//! (separated by `;` or `|`) are optional, and columns are found by name in
//! any order and case. Rows are read as a stream, so a 10-million-row file
//! is never held whole.

use std::io::Read;

use super::{Defaults, ImportReport, check_validity, time};
use crate::model::{Indicator, Kind, Tlp, canonical};

/// Reads `input`, calling `add` for each indicator. An error only if the
/// header is unusable; bad rows are in the report.
pub fn read(input: impl Read, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let mut rdr = ::csv::ReaderBuilder::new().flexible(true).trim(::csv::Trim::All).from_reader(input);
    let header = rdr.headers().map_err(|e| format!("header row: {e}"))?.clone();
    let col = |name: &str| header.iter().position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name));
    let (Some(c_type), Some(c_value)) = (col("type"), col("value")) else {
        return Err(format!(
            "the header row must name `type` and `value` columns (it has: {})",
            header.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let (c_source, c_conf, c_tlp, c_from, c_until, c_tags) =
        (col("source"), col("confidence"), col("tlp"), col("valid_from"), col("valid_until"), col("tags"));
    let mut report = ImportReport::default();
    let mut record = ::csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A broken row (bad quoting) is reported; the reader resyncs at the next line.
                report.read += 1;
                let line = e.position().map_or(0, |p| p.line());
                report.reject(format!("line {line}"), "", format!("malformed CSV: {e}"));
                continue;
            }
        }
        report.read += 1;
        let line = record.position().map_or(0, |p| p.line());
        let at = format!("line {line}");
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).map(|b| String::from_utf8_lossy(b)).filter(|s| !s.is_empty());
        let value = field(Some(c_value)).unwrap_or_default();
        if record.iter().any(|f| std::str::from_utf8(f).is_err()) {
            report.reject(at, &value, "not UTF-8 (convert GBK files to UTF-8)".into());
            continue;
        }
        match row(&field, c_type, c_source, c_conf, c_tlp, c_from, c_until, c_tags, &value, defaults) {
            Ok(i) => {
                report.loaded += 1;
                add(i);
            }
            Err(why) => report.reject(at, &value, why),
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn row<'a>(
    field: &dyn Fn(Option<usize>) -> Option<std::borrow::Cow<'a, str>>,
    c_type: usize,
    c_source: Option<usize>,
    c_conf: Option<usize>,
    c_tlp: Option<usize>,
    c_from: Option<usize>,
    c_until: Option<usize>,
    c_tags: Option<usize>,
    value: &str,
    defaults: &Defaults,
) -> Result<Indicator, String> {
    let type_name = field(Some(c_type)).ok_or("no type")?;
    let kind = Kind::parse(&type_name).ok_or_else(|| format!("unknown type `{type_name}`"))?;
    let value = canonical(kind, value)?;
    let confidence = match field(c_conf) {
        None => defaults.confidence,
        Some(c) => c.parse::<u8>().ok().filter(|c| *c <= 100).ok_or_else(|| format!("confidence `{c}` is not 0–100"))?,
    };
    let tlp = match field(c_tlp) {
        None => defaults.tlp,
        Some(t) => Tlp::parse(&t).ok_or_else(|| format!("tlp `{t}` is not CLEAR, GREEN, AMBER, AMBER+STRICT or RED"))?,
    };
    let i = Indicator {
        kind,
        value,
        source: field(c_source).map_or_else(|| defaults.source.clone(), |s| s.into_owned()),
        confidence,
        tlp,
        valid_from: field(c_from).map(|t| time(&t)).transpose()?,
        valid_until: field(c_until).map(|t| time(&t)).transpose()?,
        tags: field(c_tags)
            .map(|t| t.split([';', '|']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
    };
    check_validity(&i)?;
    Ok(i)
}
