//! Line input that survives hostile streams: every line yields an answer,
//! a line that is not UTF-8 or is longer than the limit becomes a rejected
//! line (reported, counted) instead of ending the run, and memory use is
//! bounded by the limit however long a line is. The framing is the ingest
//! pipeline's [`LineReader`]; this adds line numbers and the messages.

use std::io::Read;

use shouwang_ingest::framing::{Frame, LineReader};

pub enum Line {
    Text(String),
    /// Not usable: a lossy preview of the line, and why.
    Rejected {
        preview: String,
        reason: String,
    },
}

/// Numbered lines without their `\n` / `\r\n`.
pub struct Lines<R> {
    reader: LineReader<R>,
    max: usize,
    number: u64,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R, max: usize) -> Lines<R> {
        Lines { reader: LineReader::new(inner, 0, max), max, number: 0 }
    }

    /// The next line, or `None` at end of input.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        self.number += 1;
        let (n, max) = (self.number, self.max);
        Ok(self.reader.next_frame()?.map(|frame| match frame {
            Frame::TooLong { head, .. } => {
                Line::Rejected { preview: preview(&head), reason: format!("line {n} is longer than {max} bytes") }
            }
            Frame::Record { bytes, .. } => match std::str::from_utf8(bytes) {
                Ok(s) => Line::Text(s.to_string()),
                Err(e) => Line::Rejected {
                    reason: format!("line {n} is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
                    preview: preview(bytes),
                },
            },
        }))
    }
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<Result<String, String>> {
        let mut lines = Lines::new(input, max);
        let mut out = Vec::new();
        while let Some(l) = lines.next_line().unwrap() {
            out.push(match l {
                Line::Text(s) => Ok(s),
                Line::Rejected { reason, .. } => Err(reason),
            });
        }
        out
    }

    #[test]
    fn bad_lines_are_rejected_and_the_rest_go_through() {
        let mut input = b"192.0.2.1\r\n\xff\xfe\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 100));
        input.extend(b"\nlast");
        let got = all(&input, 50);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok("192.0.2.1".into()));
        assert_eq!(got[1], Err("line 2 is not valid UTF-8 (bad byte at offset 0)".into()));
        assert_eq!(got[2], Err("line 3 is longer than 50 bytes".into()));
        assert_eq!(got[3], Ok("last".into()));
    }
}
