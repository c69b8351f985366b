//! Line input that survives hostile streams: every line yields an answer,
//! a line that is not UTF-8 or is longer than the limit becomes a rejected
//! line (reported, counted) instead of ending the run, and memory use is
//! bounded by the limit however long a line is.

use std::io::BufRead;

pub enum Line {
    Text(String),
    /// Not usable: a lossy preview of the line, and why.
    Rejected {
        preview: String,
        reason: String,
    },
}

/// The next line without its `\n` / `\r\n`, or `None` at end of input.
pub fn next_line(r: &mut impl BufRead, max: usize, number: u64) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let n = std::io::Read::take(&mut *r, max as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() > max {
        skip_rest_of_line(r)?;
        return Ok(Some(Line::Rejected { preview: preview(&buf), reason: format!("line {number} is longer than {max} bytes") }));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(s) => Line::Text(s),
        Err(e) => Line::Rejected {
            reason: format!("line {number} is not valid UTF-8 (bad byte at offset {})", e.utf8_error().valid_up_to()),
            preview: preview(e.as_bytes()),
        },
    }))
}

fn skip_rest_of_line(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(());
        }
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = avail.len();
                r.consume(n);
            }
        }
    }
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize) -> Vec<Result<String, String>> {
        let mut r = std::io::BufReader::with_capacity(16, input);
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(l) = next_line(&mut r, max, {
            n += 1;
            n
        })
        .unwrap()
        {
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
