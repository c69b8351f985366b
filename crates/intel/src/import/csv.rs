//! CSV indicator lists: a header row naming the columns, then one indicator
//! per row. `type` and `value` are required; `source`, `confidence` (0–100),
//! `tlp`, `valid_from`, `valid_until` (RFC 3339 or a date) and `tags`
//! (separated by `;` or `|`) are optional, and columns are found by name in
//! any order and case.
//!
//! Rows are read as a stream in blocks of about a megabyte, cut at line ends
//! outside quotes, and the blocks are parsed and canonicalised on every
//! core; indicators still reach `add` in file order. A file is never held
//! whole: a 10-million-row feed loads in a few megabytes besides the index.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Defaults, ImportReport, check_validity, time};
use crate::model::{Indicator, Kind, Tlp, canonical};

/// Bytes read per block; a block ends at the last line end outside quotes.
const BLOCK: usize = 1 << 20;
/// A block with no line end outside quotes is cut here anyway: a stray
/// quote then spoils the records around the cut, not the rest of the file,
/// and memory stays bounded.
const MAX_BLOCK: usize = 64 << 20;

/// Whole records, and the line the first starts on.
type Block = (Vec<u8>, u64);

/// Where each column is.
#[derive(Debug, Clone, Copy)]
struct Columns {
    kind: usize,
    value: usize,
    source: Option<usize>,
    confidence: Option<usize>,
    tlp: Option<usize>,
    from: Option<usize>,
    until: Option<usize>,
    tags: Option<usize>,
}

/// Reads `input`, calling `add` for each indicator in file order. An error
/// if the header is unusable or the input cannot be read; bad rows are in
/// the report.
pub fn read(mut input: impl Read, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let mut blocks = Blocks { input: &mut input, pending: Vec::new(), eof: false, line: 1 };
    let (header, _) = blocks.next_record()?.ok_or("header row: the file is empty")?;
    let columns = columns(&header)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let mut report = ImportReport::default();
    std::thread::scope(|scope| -> Result<(), String> {
        let mut lanes: Vec<(SyncSender<Block>, Receiver<Parsed>)> = Vec::new();
        for _ in 0..workers {
            let (to_worker, jobs) = sync_channel::<Block>(1);
            let (done, from_worker) = sync_channel(1);
            scope.spawn(move || {
                for (block, line) in jobs {
                    if done.send(parse(&block, line, columns, defaults)).is_err() {
                        break;
                    }
                }
            });
            lanes.push((to_worker, from_worker));
        }
        // Block k goes to lane k % workers; its result is taken, in order,
        // before that lane is given block k + workers.
        let mut sent = 0usize;
        let mut taken = 0usize;
        let mut take = |taken: &mut usize, report: &mut ImportReport| {
            let parsed = lanes[*taken % workers].1.recv().expect("a worker answers every block it is given");
            *taken += 1;
            report.merge(parsed.report);
            parsed.indicators.into_iter().for_each(&mut *add);
        };
        while let Some((block, line)) = blocks.next_block()? {
            if sent - taken == workers {
                take(&mut taken, &mut report);
            }
            lanes[sent % workers].0.send((block, line)).expect("workers run until their lane closes");
            sent += 1;
        }
        while taken < sent {
            take(&mut taken, &mut report);
        }
        Ok(())
    })?;
    Ok(report)
}

fn columns(header: &[u8]) -> Result<Columns, String> {
    let mut rdr = ::csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(header);
    let mut record = ::csv::StringRecord::new();
    rdr.read_record(&mut record).map_err(|e| format!("header row: {e}"))?;
    let col = |name: &str| record.iter().position(|h| h.trim().trim_start_matches('\u{feff}').trim().eq_ignore_ascii_case(name));
    let (Some(kind), Some(value)) = (col("type"), col("value")) else {
        return Err(format!(
            "the header row must name `type` and `value` columns (it has: {})",
            record.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    Ok(Columns {
        kind,
        value,
        source: col("source"),
        confidence: col("confidence"),
        tlp: col("tlp"),
        from: col("valid_from"),
        until: col("valid_until"),
        tags: col("tags"),
    })
}

/// The input cut into blocks of whole records.
struct Blocks<'a, R: Read> {
    input: &'a mut R,
    /// Read but not yet handed out.
    pending: Vec<u8>,
    eof: bool,
    /// Line number of `pending`'s first byte.
    line: u64,
}

impl<R: Read> Blocks<'_, R> {
    /// Reads until `pending` holds `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> Result<(), String> {
        while !self.eof && self.pending.len() < want {
            let have = self.pending.len();
            self.pending.resize(want, 0);
            let read = self.input.read(&mut self.pending[have..]);
            self.pending.truncate(have + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading after line {}: {e}", self.line)),
            }
        }
        Ok(())
    }

    /// The next block: whole records, and the line it starts on.
    fn next_block(&mut self) -> Result<Option<Block>, String> {
        self.cut(last_record_end, BLOCK)
    }

    /// The next single record (the header).
    fn next_record(&mut self) -> Result<Option<Block>, String> {
        self.cut(first_record_end, 4096)
    }

    fn cut(&mut self, end: impl Fn(&[u8]) -> Option<usize>, size: usize) -> Result<Option<Block>, String> {
        let mut want = size;
        let at = loop {
            self.fill(want)?;
            if self.eof || self.pending.len() >= MAX_BLOCK {
                break end(&self.pending).unwrap_or(self.pending.len());
            }
            if let Some(at) = end(&self.pending) {
                break at;
            }
            want = self.pending.len() * 2;
        };
        if at == 0 {
            return Ok(None);
        }
        let rest = self.pending.split_off(at);
        let block = std::mem::replace(&mut self.pending, rest);
        let line = self.line;
        self.line += memchr::memchr_iter(b'\n', &block).count() as u64;
        Ok(Some((block, line)))
    }
}

/// Positions just past each `\n` outside quotes (a quote toggles, so an
/// escaped `""` toggles twice).
fn record_ends(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut quoted = false;
    memchr::memchr2_iter(b'"', b'\n', bytes).filter_map(move |i| {
        if bytes[i] == b'"' {
            quoted = !quoted;
            None
        } else {
            (!quoted).then_some(i + 1)
        }
    })
}

fn first_record_end(bytes: &[u8]) -> Option<usize> {
    record_ends(bytes).next()
}

fn last_record_end(bytes: &[u8]) -> Option<usize> {
    record_ends(bytes).last()
}

/// A block's indicators in order, and its report.
struct Parsed {
    indicators: Vec<Indicator>,
    report: ImportReport,
}

/// Parses one block whose first byte is on line `first_line`.
fn parse(block: &[u8], first_line: u64, c: Columns, defaults: &Defaults) -> Parsed {
    // Fields are trimmed as they are used: trimming every field of every
    // row in the reader was a twentieth of a 10-million-row load.
    let mut rdr = ::csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(block);
    let mut out = Parsed { indicators: Vec::new(), report: ImportReport::default() };
    let report = &mut out.report;
    let mut record = ::csv::ByteRecord::new();
    let line = |p: Option<&::csv::Position>| format!("line {}", first_line + p.map_or(1, |p| p.line()) - 1);
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A broken row (bad quoting) is reported; the reader resyncs at the next line.
                report.read += 1;
                report.reject(line(e.position()), "", format!("malformed CSV: {e}"));
                continue;
            }
        }
        report.read += 1;
        // The fields lie back to back: valid as a whole, and none starting
        // inside a character, means each is valid.
        let starts_mid_char = |f: &[u8]| f.first().is_some_and(|b| b & 0xc0 == 0x80);
        if std::str::from_utf8(record.as_slice()).is_err() || record.iter().any(starts_mid_char) {
            let value = String::from_utf8_lossy(record.get(c.value).unwrap_or_default());
            report.reject(line(record.position()), &value, "not UTF-8 (convert GBK files to UTF-8)".into());
            continue;
        }
        // Every field is UTF-8 now, so `ok()` only drops absent columns.
        let field = |c: Option<usize>| {
            c.and_then(|c| record.get(c)).and_then(|b| std::str::from_utf8(b).ok()).map(str::trim).filter(|s| !s.is_empty())
        };
        let value = field(Some(c.value)).unwrap_or_default();
        match row(&field, c, value, defaults) {
            Ok(i) => {
                report.loaded += 1;
                out.indicators.push(i);
            }
            Err(why) => report.reject(line(record.position()), value, why),
        }
    }
    out
}

fn row<'a>(field: &dyn Fn(Option<usize>) -> Option<&'a str>, c: Columns, value: &str, defaults: &Defaults) -> Result<Indicator, String> {
    let type_name = field(Some(c.kind)).ok_or("no type")?;
    let kind = Kind::parse(type_name).ok_or_else(|| format!("unknown type `{type_name}`"))?;
    let value = canonical(kind, value)?;
    let confidence = match field(c.confidence) {
        None => defaults.confidence,
        Some(c) => c.parse::<u8>().ok().filter(|c| *c <= 100).ok_or_else(|| format!("confidence `{c}` is not 0–100"))?,
    };
    let tlp = match field(c.tlp) {
        None => defaults.tlp,
        Some(t) => Tlp::parse(t).ok_or_else(|| format!("tlp `{t}` is not CLEAR, GREEN, AMBER, AMBER+STRICT or RED"))?,
    };
    let i = Indicator {
        kind,
        value,
        source: field(c.source).unwrap_or(&defaults.source).to_string(),
        confidence,
        tlp,
        valid_from: field(c.from).map(time).transpose()?,
        valid_until: field(c.until).map(time).transpose()?,
        tags: field(c.tags)
            .map(|t| t.split([';', '|']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
    };
    check_validity(&i)?;
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, interrupted now and then.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.1 += 1;
            if self.1.is_multiple_of(7) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = out.len().min(self.0.len()).min(self.1 % 5000);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn quoted_line_ends_across_blocks_keep_rows_whole_and_lines_exact() {
        // Every 3rd row has tags over two lines; the rows run well past a block.
        let mut text = String::from("\u{feff}Type,VALUE,tags\n");
        let mut line = 2;
        let mut bad_lines = Vec::new();
        for n in 0..100_000u32 {
            if n % 1000 == 999 {
                text.push_str(&format!("ip,10.{n}.0.1,x\n"));
                bad_lines.push(format!("line {line}"));
                line += 1;
            } else if n % 3 == 0 {
                text.push_str(&format!("ip,10.0.{}.{},\"c2;\n\"\"botnet\"\"\"\n", n / 256 % 256, n % 256));
                line += 2;
            } else {
                text.push_str(&format!("domain,d{n}.example,\n"));
                line += 1;
            }
        }
        assert!(text.len() > 2 * BLOCK, "{}", text.len());
        let mut got = Vec::new();
        let report = read(Trickle(text.as_bytes(), 0), &Defaults::new("t"), &mut |i| got.push(i)).unwrap();
        assert_eq!((report.read, report.loaded), (100_000, 99_900));
        let at: Vec<&str> = report.rejected.iter().map(|r| r.at.as_str()).collect();
        assert_eq!(at, bad_lines);
        assert_eq!(got[0].tags, ["c2", "\"botnet\""]);
        assert_eq!((got[1].value.as_str(), got[3].value.as_str()), ("d1.example", "10.0.0.3/32"), "file order");
    }

    #[test]
    fn record_ends_skip_quoted_line_ends() {
        let b = b"a,\"x\ny\",b\nc,\"\"\"\"\nd";
        assert_eq!(record_ends(b).collect::<Vec<_>>(), [10, 17]);
        assert_eq!((first_record_end(b"no end"), last_record_end(b"a\nb\n")), (None, Some(4)));
    }

    #[test]
    fn empty_and_unreadable_inputs_say_so() {
        let e = read(&b""[..], &Defaults::new("t"), &mut |_| {}).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let e = read(Broken, &Defaults::new("t"), &mut |_| {}).unwrap_err();
        assert!(e.contains("disk gone"), "{e}");
    }
}
