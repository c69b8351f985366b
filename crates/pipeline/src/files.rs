//! Files, directories and stdin. A file is its own durable source, so it
//! needs no spool: its stream is named by path and inode, the checkpoint is
//! a byte offset, and a second run resumes there (a file that shrank is
//! read again from the start; the origin key keeps that from duplicating).

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use serde::Serialize;
use shouwang_eventstore::{Batch, Origin, Stream};
use shouwang_ingest::Format;
use shouwang_ingest::framing::{Frame, LineReader};
use shouwang_ingest::parse::Shadowserver;

use crate::*;

#[derive(Debug, Clone, Default)]
pub struct FileOptions {
    pub source: Source,
    /// Read from the beginning even if a checkpoint says otherwise.
    pub from_start: bool,
}

/// What one input produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub input: String,
    pub stream: String,
    pub format: String,
    /// Byte offsets read, `[from, to)`.
    pub from: u64,
    pub to: u64,
    pub records: u64,
    pub events: u64,
    /// Events already stored by an earlier run (not stored again).
    pub duplicates: u64,
    pub dead_letters: u64,
    /// Rejected records by reason.
    pub rejected: BTreeMap<String, u64>,
    pub seconds: f64,
}

fn io_err(what: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io { what: what.display().to_string(), source }
}

/// The first non-blank line of a file (up to 64 KiB of it), for format detection.
fn first_line(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut r = std::io::BufReader::new(f).take(16 * 1024 * 1024);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r).take(64 * 1024).read_until(b'\n', &mut line).map_err(io_err(path))?;
        if n == 0 || !line.iter().all(u8::is_ascii_whitespace) {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            return Ok(line);
        }
    }
}

fn stream_name(path: &Path) -> Result<(String, u64)> {
    let canonical = std::fs::canonicalize(path).map_err(io_err(path))?;
    let meta = std::fs::metadata(&canonical).map_err(io_err(path))?;
    #[cfg(unix)]
    let id = {
        use std::os::unix::fs::MetadataExt;
        format!("#{}:{}", meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let id = String::new();
    Ok((format!("file:{}{id}", canonical.display()), meta.len()))
}

impl Pipeline {
    /// Ingests one file from its checkpoint, calling `progress` with the
    /// byte offset reached after every batch.
    pub fn ingest_file(&self, path: &Path, opts: &FileOptions, progress: &mut dyn FnMut(u64, u64)) -> Result<Report> {
        let (name, len) = stream_name(path)?;
        let stream = self.events.stream(&name)?;
        let file_name = path.file_name().and_then(|n| n.to_str());
        let first = first_line(path)?;
        let format = match opts.source.format.or_else(|| Format::detect(file_name, &first)) {
            Some(f) => f,
            None if first.is_empty() => Format::Json, // an empty file: nothing to parse either way
            None => {
                return Err(PipelineError::Input {
                    what: path.display().to_string(),
                    why: "cannot recognise the format from the first line; pass --format".into(),
                });
            }
        };
        let resume = stream.position as u64;
        let start = if opts.from_start || resume > len { 0 } else { resume };
        let mut f = std::fs::File::open(path).map_err(io_err(path))?;
        f.seek(std::io::SeekFrom::Start(start)).map_err(io_err(path))?;
        // A resumed report still needs its header row, which lies before `start`.
        let header = (format.has_header() && start > 0).then_some(first);
        let source = Source { format: Some(format), ..opts.source.clone() };
        let mut report = self.ingest_reader(f, &stream, start, &source, file_name, header, &mut |p| progress(p, len))?;
        report.input = path.display().to_string();
        Ok(report)
    }

    /// Every regular file under `dir` (recursively, in name order, hidden
    /// files skipped), each with its own result.
    pub fn ingest_dir(
        &self,
        dir: &Path,
        opts: &FileOptions,
        progress: &mut dyn FnMut(&Path, u64, u64),
    ) -> Result<Vec<(PathBuf, Result<Report>)>> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).map_err(io_err(&d))? {
                let entry = entry.map_err(io_err(&d))?;
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                let kind = entry.file_type().map_err(io_err(&path))?;
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file() {
                    files.push(path);
                }
            }
        }
        files.sort();
        Ok(files
            .into_iter()
            .map(|path| {
                let r = self.ingest_file(&path, opts, &mut |p, len| progress(&path, p, len));
                (path, r)
            })
            .collect())
    }

    /// Ingests a stream that has no lasting position (stdin): one stream per run.
    pub fn ingest_stdin(&self, input: impl Read, source: &Source) -> Result<Report> {
        let name = format!("stdin:{}", jiff::Timestamp::now());
        let stream = self.events.stream(&name)?;
        let mut r = self.ingest_reader(input, &stream, 0, source, None, None, &mut |_| {})?;
        r.input = "-".into();
        Ok(r)
    }

    /// The loop every byte-stream source shares. The reader thread frames,
    /// parses and tags; the writer stores; the bounded channel between them
    /// is the backpressure.
    #[allow(clippy::too_many_arguments)]
    pub fn ingest_reader(
        &self,
        input: impl Read,
        stream: &Stream,
        start: u64,
        source: &Source,
        file_name: Option<&str>,
        header: Option<Vec<u8>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Report> {
        let began = std::time::Instant::now();
        let what = file_name.unwrap_or(&stream.name).to_string();
        // A report's name comes from its file unless the source names it.
        let variant = match source.variant.as_str() {
            "" => file_name.map(Shadowserver::report_from_file_name).unwrap_or_default(),
            v => v.to_string(),
        };
        let mut report = Report { stream: stream.name.clone(), from: start, to: start, ..Default::default() };
        let (tx, rx) = sync_channel::<Work>(QUEUE_BATCHES);
        let written = std::thread::scope(|s| -> Result<shouwang_eventstore::Written> {
            let writer = s.spawn(move || self.write_all(rx));
            let mut feed = Feed::new(tx, self.counters.clone());
            let read = self.read_loop(input, stream, start, source, &variant, header, &what, &mut feed, &mut report, progress);
            // What was read is recorded even if reading then failed.
            feed.flush();
            drop(feed);
            let written = writer.join().expect("the writer thread does not panic");
            // A writer failure is the cause of a reader's hang-up: report it first.
            let written = written?;
            read?;
            Ok(written)
        })?;
        report.events = written.events;
        report.duplicates = written.duplicates;
        report.dead_letters = written.dead;
        report.seconds = began.elapsed().as_secs_f64();
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn read_loop(
        &self,
        input: impl Read,
        stream: &Stream,
        start: u64,
        source: &Source,
        variant: &str,
        mut header: Option<Vec<u8>>,
        what: &str,
        feed: &mut Feed,
        report: &mut Report,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut lines = LineReader::new(input, start, self.max_record);
        let mut stage: Option<Stage> = None;
        let mut batch = Batch::default();
        let input_err = |why: String| PipelineError::Input { what: what.to_string(), why };
        loop {
            let frame = lines.next_frame().map_err(|source| PipelineError::Io { what: what.to_string(), source })?;
            let Some(frame) = frame else { break };
            let (pos, record, len) = match &frame {
                Frame::Record { pos, bytes } => (*pos, *bytes, bytes.len() as u64),
                Frame::TooLong { pos, head, len } => (*pos, &head[..], *len),
            };
            if matches!(frame, Frame::Record { .. }) && record.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if stage.is_none() {
                let format = source
                    .format
                    .or_else(|| Format::detect(None, record))
                    .ok_or_else(|| input_err("cannot recognise the format from the first record; pass --format".into()))?;
                report.format = format.spec(variant);
                if format.has_header() && header.is_none() {
                    header = Some(record.to_vec());
                    stage =
                        Some(Stage::new(format, variant, header.take(), source, self).map_err(|r| input_err(format!("header row: {r}")))?);
                    continue;
                }
                stage = Some(Stage::new(format, variant, header.take(), source, self).map_err(|r| input_err(r.to_string()))?);
            }
            let stage = stage.as_ref().expect("set above");
            let origin = Origin { stream: stream.id, pos: pos as i64 };
            report.records += 1;
            match frame {
                Frame::Record { .. } => stage.run(origin, record, &mut batch),
                Frame::TooLong { .. } => {
                    let why = format!("{len} bytes, over the {}-byte record limit", self.max_record);
                    let reject = shouwang_ingest::Reject::new(shouwang_ingest::Reason::TooLarge, why);
                    batch.dead.push(stage.dead_letter(origin, reject, record, len));
                }
            }
            if batch.events.len() + batch.dead.len() >= BATCH_RECORDS {
                self.flush(feed, &mut batch, stream, lines.position(), report)?;
                progress(lines.position());
            }
        }
        self.flush(feed, &mut batch, stream, lines.position(), report)?;
        progress(lines.position());
        report.to = lines.position();
        Ok(())
    }

    fn flush(&self, feed: &mut Feed, batch: &mut Batch, stream: &Stream, pos: u64, report: &mut Report) -> Result<()> {
        for d in &batch.dead {
            *report.rejected.entry(d.reason.clone()).or_default() += 1;
        }
        let mut full = std::mem::take(batch);
        full.checkpoint = Some((stream.id, pos as i64));
        if self.send(feed, full)? {
            Ok(())
        } else {
            // The writer hung up; its error is returned by the caller.
            Err(PipelineError::Input { what: stream.name.clone(), why: "the writer stopped".into() })
        }
    }
}
