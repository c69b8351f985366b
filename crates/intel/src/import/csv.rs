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
    // Fields are trimmed as they are used: trimming every field of every
    // row in the reader was a twentieth of a 10-million-row load.
    let mut rdr = ::csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let header = rdr.headers().map_err(|e| format!("header row: {e}"))?.clone();
    let col = |name: &str| header.iter().position(|h| h.trim().trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(name));
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
        let at = || format!("line {}", record.position().map_or(0, |p| p.line()));
        // The fields lie back to back: valid as a whole, and none starting
        // inside a character, means each is valid.
        let starts_mid_char = |f: &[u8]| f.first().is_some_and(|b| b & 0xc0 == 0x80);
        if std::str::from_utf8(record.as_slice()).is_err() || record.iter().any(starts_mid_char) {
            report.reject(at(), &String::from_utf8_lossy(record.get(c_value).unwrap_or_default()), "not UTF-8 (convert GBK files to UTF-8)".into());
            continue;
        }
        // Every field is UTF-8 now, so `ok()` only drops absent columns.
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).and_then(|b| std::str::from_utf8(b).ok()).map(str::trim).filter(|s| !s.is_empty());
        let value = field(Some(c_value)).unwrap_or_default();
        match row(&field, c_type, c_source, c_conf, c_tlp, c_from, c_until, c_tags, value, defaults) {
            Ok(i) => {
                report.loaded += 1;
                add(i);
            }
            Err(why) => report.reject(at(), value, why),
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn row<'a>(
    field: &dyn Fn(Option<usize>) -> Option<&'a str>,
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
    let kind = Kind::parse(type_name).ok_or_else(|| format!("unknown type `{type_name}`"))?;
    let value = canonical(kind, value)?;
    let confidence = match field(c_conf) {
        None => defaults.confidence,
        Some(c) => c.parse::<u8>().ok().filter(|c| *c <= 100).ok_or_else(|| format!("confidence `{c}` is not 0–100"))?,
    };
    let tlp = match field(c_tlp) {
        None => defaults.tlp,
        Some(t) => Tlp::parse(t).ok_or_else(|| format!("tlp `{t}` is not CLEAR, GREEN, AMBER, AMBER+STRICT or RED"))?,
    };
    let i = Indicator {
        kind,
        value,
        source: field(c_source).unwrap_or(&defaults.source).to_string(),
        confidence,
        tlp,
        valid_from: field(c_from).map(time).transpose()?,
        valid_until: field(c_until).map(time).transpose()?,
        tags: field(c_tags)
            .map(|t| t.split([';', '|']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
    };
    check_validity(&i)?;
    Ok(i)
}
