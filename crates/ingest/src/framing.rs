//! Records out of a byte stream, each with the byte offset it started at
//! (the position a checkpoint or a dead letter names). Memory is bounded by
//! the record limit however long a line is: an over-long line is skipped to
//! its end and reported with its first bytes and its full length.

use std::io::Read;

/// Bytes of an over-long record kept for the dead letter.
pub const OVERSIZE_HEAD: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One record without its line ending.
    Record { pos: u64, bytes: &'a [u8] },
    /// A record over the limit: its first bytes and its length.
    TooLong { pos: u64, head: Vec<u8>, len: u64 },
}

/// Newline-delimited records (`\n` or `\r\n`).
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    pos: u64,
    max: usize,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    /// `pos` is the stream offset the reader starts at (for a resumed file).
    pub fn new(inner: R, pos: u64, max: usize) -> LineReader<R> {
        LineReader { inner, buf: vec![0; (max + 1).min(256 * 1024)], start: 0, end: 0, pos, max, eof: false }
    }

    /// Offset just past the last record returned.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads more input after compacting; false at end of input.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.max + 1).max(self.buf.len() + 1);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn next_frame(&mut self) -> std::io::Result<Option<Frame<'_>>> {
        let mut searched = 0;
        loop {
            let avail = &self.buf[self.start + searched..self.end];
            if let Some(i) = memchr::memchr(b'\n', avail) {
                let line_end = self.start + searched + i;
                return Ok(Some(self.take(line_end, 1)));
            }
            searched = self.end - self.start;
            if searched > self.max {
                return self.skip_long().map(Some);
            }
            if !self.fill()? {
                if self.end == self.start {
                    return Ok(None);
                }
                // The last record need not end in a newline.
                return Ok(Some(self.take(self.end, 0)));
            }
        }
    }

    fn take(&mut self, line_end: usize, newline: usize) -> Frame<'_> {
        let pos = self.pos;
        let (start, mut stop) = (self.start, line_end);
        if stop > start && self.buf[stop - 1] == b'\r' {
            stop -= 1;
        }
        self.pos += (line_end + newline - start) as u64;
        self.start = line_end + newline;
        Frame::Record { pos, bytes: &self.buf[start..stop] }
    }

    /// Keeps the head of an over-long line and discards the rest of it.
    fn skip_long(&mut self) -> std::io::Result<Frame<'static>> {
        let pos = self.pos;
        let head = self.buf[self.start..self.start + OVERSIZE_HEAD.min(self.end - self.start)].to_vec();
        let mut len: u64 = 0;
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(i) = memchr::memchr(b'\n', avail) {
                len += i as u64;
                self.start += i + 1;
                self.pos += len + 1;
                return Ok(Frame::TooLong { pos, head, len });
            }
            len += avail.len() as u64;
            self.start = self.end;
            if !self.fill()? {
                self.pos += len;
                return Ok(Frame::TooLong { pos, head, len });
            }
        }
    }
}

/// Syslog over a stream (RFC 6587): a frame is either octet-counted
/// (`LEN SP MSG`) or ends at a newline, decided per frame, as rsyslog does.
/// A count over the limit, or one whose frame does not begin with `<PRI>`
/// (a count that lies), becomes a refused frame; the stream goes on.
#[derive(Debug, Default)]
pub struct SyslogFramer {
    /// Bytes still to discard from an over-long frame.
    skip: Skip,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Skip {
    #[default]
    None,
    Octets(u64),
    Line,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFrame {
    /// A record: a range of the buffer passed to [`SyslogFramer::decode`].
    Record(std::ops::Range<usize>),
    /// A refused frame: what it held (at most [`OVERSIZE_HEAD`] bytes) and why.
    Refused { head: std::ops::Range<usize>, reason: crate::Reason, detail: String },
}

impl SyslogFramer {
    /// Decodes the complete frames at the start of `buf`, returning how many
    /// bytes they used; the rest waits for more input. With `eof`, a last
    /// frame without its newline is taken as it is.
    pub fn decode(&mut self, buf: &[u8], max: usize, eof: bool, out: &mut Vec<StreamFrame>) -> usize {
        let mut at = 0;
        loop {
            match self.skip {
                Skip::Octets(n) => {
                    let k = n.min((buf.len() - at) as u64);
                    at += k as usize;
                    self.skip = if k == n { Skip::None } else { Skip::Octets(n - k) };
                    if self.skip != Skip::None {
                        return at;
                    }
                }
                Skip::Line => match memchr::memchr(b'\n', &buf[at..]) {
                    Some(i) => {
                        at += i + 1;
                        self.skip = Skip::None;
                    }
                    None => return buf.len(),
                },
                Skip::None => {}
            }
            while at < buf.len() && matches!(buf[at], b'\n' | b'\r') {
                at += 1;
            }
            if at == buf.len() {
                return at;
            }
            let rest = &buf[at..];
            let digits = rest.iter().take(11).take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && rest.get(digits) == Some(&b' ') {
                let n: u64 = std::str::from_utf8(&rest[..digits]).ok().and_then(|d| d.parse().ok()).unwrap_or(u64::MAX);
                let start = at + digits + 1;
                if n > max as u64 {
                    let head = start..start + (buf.len() - start).min(OVERSIZE_HEAD);
                    let detail = format!("octet count {n} is over the {max}-byte record limit");
                    out.push(StreamFrame::Refused { head, reason: crate::Reason::TooLarge, detail });
                    at = start;
                    self.skip = Skip::Octets(n);
                    continue;
                }
                let n = n as usize;
                if buf.len() - start < n {
                    return at;
                }
                let frame = start..start + n;
                if buf.get(start) == Some(&b'<') {
                    out.push(StreamFrame::Record(frame));
                } else {
                    let detail = format!("octet count {n} does not frame a syslog message (the frame does not begin with `<PRI>`)");
                    out.push(StreamFrame::Refused { head: start..start + n.min(OVERSIZE_HEAD), reason: crate::Reason::Malformed, detail });
                }
                at = start + n;
                continue;
            }
            match memchr::memchr(b'\n', rest) {
                Some(i) if i <= max => {
                    let end = if i > 0 && rest[i - 1] == b'\r' { at + i - 1 } else { at + i };
                    out.push(StreamFrame::Record(at..end));
                    at += i + 1;
                }
                found if found.is_some() || rest.len() > max => {
                    let detail = format!("a line over the {max}-byte record limit");
                    out.push(StreamFrame::Refused {
                        head: at..at + rest.len().min(OVERSIZE_HEAD),
                        reason: crate::Reason::TooLarge,
                        detail,
                    });
                    match found {
                        Some(i) => at += i + 1,
                        None => {
                            self.skip = Skip::Line;
                            return buf.len();
                        }
                    }
                }
                _ if eof => {
                    out.push(StreamFrame::Record(at..buf.len()));
                    return buf.len();
                }
                _ => return at,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize, chunk: usize) -> Vec<(u64, Result<String, u64>)> {
        // A reader that returns at most `chunk` bytes per read, to cross buffer edges.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = LineReader::new(Trickle(input, chunk), 0, max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push(match f {
                Frame::Record { pos, bytes } => (pos, Ok(String::from_utf8_lossy(bytes).into_owned())),
                Frame::TooLong { pos, len, .. } => (pos, Err(len)),
            });
        }
        assert_eq!(r.position(), input.len() as u64);
        out
    }

    #[test]
    fn positions_line_endings_and_long_lines() {
        let mut input = b"one\r\ntwo\n\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1000));
        input.extend(b"\nlast");
        for chunk in [1, 3, 7, 4096] {
            let got = frames(&input, 64, chunk);
            assert_eq!(
                got,
                [(0, Ok("one".into())), (5, Ok("two".into())), (9, Ok("".into())), (10, Err(1000)), (1011, Ok("last".into()))],
                "chunk {chunk}"
            );
        }
        assert_eq!(frames(b"", 8, 1), []);
        assert_eq!(frames(&[b'y'; 20], 8, 3), [(0, Err(20))]);
    }

    fn syslog_frames(input: &[u8], max: usize, chunk: usize) -> Vec<Result<String, String>> {
        let mut f = SyslogFramer::default();
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let mut frames = Vec::new();
        let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
        for (i, c) in chunks.iter().enumerate() {
            buf.extend_from_slice(c);
            let used = f.decode(&buf, max, i + 1 == chunks.len(), &mut frames);
            for fr in frames.drain(..) {
                out.push(match fr {
                    StreamFrame::Record(r) => Ok(String::from_utf8_lossy(&buf[r]).into_owned()),
                    StreamFrame::Refused { reason, .. } => Err(reason.as_str().to_string()),
                });
            }
            buf.drain(..used);
        }
        out
    }

    #[test]
    fn syslog_stream_framing() {
        let input = b"<13>plain line\r\n12 <13>counted\n<14>after\n9 notsyslog5 <1>x\n\n99999999 <1>big".to_vec();
        for chunk in [1, 2, 5, 1000] {
            let got = syslog_frames(&input, 64, chunk);
            assert_eq!(
                got,
                [
                    Ok("<13>plain line".into()),
                    Ok("<13>counted\n".into()),
                    Ok("<14>after".into()),
                    Err("malformed".into()),
                    Ok("<1>x\n".into()),
                    Err("too_large".into())
                ],
                "chunk {chunk}"
            );
        }
        let mut long = vec![b'a'; 100];
        long.extend(b"\n<1>ok\n");
        assert_eq!(syslog_frames(&long, 64, 7), [Err("too_large".into()), Ok("<1>ok".into())]);
        assert_eq!(syslog_frames(b"2026-11-22 plain\n", 64, 3), [Ok("2026-11-22 plain".into())], "digits without a space are not a count");
    }
}
