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
}
