//! ArcSight Common Event Format:
//! `[syslog prefix] CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|k=v k=v …`.
//!
//! Header fields escape `|` and `\`; extension values escape `=`, `\`, `\n`
//! and `\r`, and may contain unescaped `|` and spaces. Devices also emit
//! unescaped `=` inside values, so a key is only recognised where it starts
//! after a space and consists of key characters: `msg=a=b c=d` is
//! `msg` = `a=b`, `c` = `d`.

use super::{Ctx, Parser, check_time, civil_utc, parse_ip, parse_port, stamp, text};
use crate::event::*;
use crate::reject::{Reason, Reject};

pub struct Cef;

fn bad(detail: String) -> Reject {
    Reject::new(Reason::BadValue, detail)
}

/// Splits the seven header fields, returning them and the extension text.
fn header(body: &str) -> Result<(Vec<String>, &str), Reject> {
    let mut fields = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some((_, n @ ('|' | '\\'))) => {
                    cur.push(n);
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == 7 {
                    return Ok((fields, &body[i + 1..]));
                }
            }
            _ => cur.push(c),
        }
    }
    Err(Reject::new(Reason::Malformed, format!("CEF header has {} of the 7 `|`-terminated fields", fields.len())))
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// `k=v` pairs of the extension, values unescaped.
fn extension(s: &str) -> Result<Vec<(&str, String)>, Reject> {
    let b = s.as_bytes();
    // (key start, position of its '=')
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'=' => {
                let mut k = i;
                while k > 0 && is_key_char(b[k - 1]) {
                    k -= 1;
                }
                // Keys start with a letter (`src`, `cs1`, `deviceCustomString1`),
                // so `port 22=ssh` inside a message is not a key.
                if k < i && b[k].is_ascii_alphabetic() && (k == 0 || b[k - 1] == b' ') {
                    keys.push((k, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    match keys.first() {
        None if !s.trim().is_empty() => return Err(Reject::new(Reason::Malformed, "CEF extension has no key=value pair")),
        Some(&(k, _)) if !s[..k].trim().is_empty() => {
            return Err(Reject::new(Reason::Malformed, format!("CEF extension has text before its first key: `{}`", s[..k].trim())));
        }
        _ => {}
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(k, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(s.len(), |&(next, _)| next);
        out.push((&s[k..eq], unescape(s[eq + 1..end].trim_end())));
    }
    Ok(out)
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('=') => out.push('='),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn severity(s: &str) -> Result<u8, Reject> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u8>() {
        return if n <= 10 { Ok(n) } else { Err(bad(format!("CEF severity `{t}` is above 10"))) };
    }
    match t.to_ascii_lowercase().as_str() {
        "low" => Ok(3),
        "medium" => Ok(5),
        "high" => Ok(8),
        "very-high" => Ok(10),
        "unknown" | "" => Ok(0),
        _ => Err(bad(format!("CEF severity `{t}` is not 0–10 or Low/Medium/High/Very-High"))),
    }
}

/// `rt`/`end`/`start`: milliseconds since the epoch, RFC 3339, or
/// `MMM dd yyyy HH:mm:ss[.SSS]` (taken as UTC, as ArcSight does without a zone).
fn time(raw: &str) -> Result<jiff::Timestamp, Reject> {
    let t = raw.trim();
    let parsed = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<i64>().ok().and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    } else if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        Some(ts)
    } else {
        civil_utc(&["%b %d %Y %H:%M:%S%.f", "%b %d %Y %H:%M:%S"], t)
    };
    let ts = parsed.ok_or_else(|| {
        Reject::new(Reason::BadTimestamp, format!("CEF time `{t}` is not epoch milliseconds, RFC 3339 or `MMM dd yyyy HH:mm:ss`"))
    })?;
    check_time(ts, t)
}

impl Parser for Cef {
    fn name(&self) -> &'static str {
        "cef"
    }

    fn parse(&self, record: &[u8], ctx: &Ctx) -> Result<Event, Reject> {
        let line = text(record, ctx)?.trim_end_matches(['\r', '\n']);
        let start = line.find("CEF:").ok_or_else(|| Reject::new(Reason::Malformed, "no `CEF:` header"))?;
        let (h, ext) = header(&line[start + 4..])?;
        if !matches!(h[0].trim(), "0" | "1") {
            return Err(bad(format!("CEF version `{}` is not 0 or 1", h[0])));
        }
        let sev = severity(&h[6])?;
        let ext = extension(ext)?;
        let get = |k: &str| ext.iter().rev().find(|(key, _)| *key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        let when = match get("rt").or_else(|| get("end")).or_else(|| get("start")) {
            Some(raw) => time(raw)?,
            None => ctx.received,
        };
        let mut e = Event::new(when, "alert", "cef.event");
        e.event.severity = Some(sev);
        e.event.action = get("act").map(str::to_string);
        e.message = get("msg").map(str::to_string).or_else(|| Some(h[5].clone()));
        e.rule = Some(Rule { id: Some(h[4].clone()), name: Some(h[5].clone()), category: get("cat").map(str::to_string) });
        e.observer = Some(Observer {
            vendor: Some(h[1].clone()),
            product: Some(h[2].clone()),
            version: Some(h[3].clone()),
            hostname: get("dvchost").map(str::to_string),
        });
        let port = |k: &str| get(k).map(|p| parse_port(k, p)).transpose();
        let ep = |ip: Option<&str>, ipk: &str, port: Option<u16>, host: Option<&str>| -> Result<Option<Endpoint>, Reject> {
            let ip = ip.map(|s| parse_ip(ipk, s)).transpose()?;
            Ok((ip.is_some() || port.is_some() || host.is_some()).then(|| Endpoint { ip, port, domain: host.map(str::to_string) }))
        };
        e.source = ep(get("src"), "src", port("spt")?, get("shost"))?;
        e.destination = ep(get("dst"), "dst", port("dpt")?, get("dhost"))?;
        if let Some(p) = get("proto") {
            e.network = Some(Network { transport: Some(p.to_ascii_lowercase()), ..Default::default() });
        }
        if let Some(u) = get("request") {
            e.url = Some(Url { full: Some(u.to_string()), ..Default::default() });
        }
        if let Some(m) = get("requestMethod") {
            e.http = Some(Http { request_method: Some(m.to_string()), ..Default::default() });
        }
        if get("fname").is_some() || get("fsize").is_some() {
            let size = get("fsize").map(|s| s.trim().parse::<u64>().map_err(|_| bad(format!("fsize `{s}` is not a size")))).transpose()?;
            e.file = Some(File { name: get("fname").map(str::to_string), size, sha256: get("fileHash").map(str::to_string) });
        }
        Ok(stamp(e, self.name(), line, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_keys_need_a_space_before_them() {
        let ext = extension(r"msg=a=b c\=d src=10.0.0.1 cs1=x|y \\ z").unwrap();
        assert_eq!(ext, vec![("msg", "a=b c=d".to_string()), ("src", "10.0.0.1".to_string()), ("cs1", r"x|y \ z".to_string())]);
        assert!(extension("junk before src=1.2.3.4").is_err());
        assert!(extension("no pairs at all").is_err());
        assert_eq!(extension("").unwrap(), vec![]);
    }

    #[test]
    fn header_escapes() {
        let (h, ext) = header(r"0|Ven\|dor|Prod|1.0|100|Name \\ x|5|src=1.2.3.4").unwrap();
        assert_eq!(h[1], "Ven|dor");
        assert_eq!(h[5], r"Name \ x");
        assert_eq!(ext, "src=1.2.3.4");
        assert!(header("0|only|three").is_err());
    }

    #[test]
    fn times_and_severities() {
        assert_eq!(time("1700000000000").unwrap().to_string(), "2023-11-14T22:13:20Z");
        assert_eq!(time("Nov 14 2023 22:13:20").unwrap().to_string(), "2023-11-14T22:13:20Z");
        assert_eq!(time("2023-11-14T22:13:20+08:00").unwrap().to_string(), "2023-11-14T14:13:20Z");
        assert_eq!(time("99999999999999999").unwrap_err().reason, Reason::BadTimestamp);
        assert_eq!(time("yesterday").unwrap_err().reason, Reason::BadTimestamp);
        assert_eq!(time("Nov 14 3023 22:13:20").unwrap_err().reason, Reason::BadTimestamp);
        assert_eq!(severity("Very-High").unwrap(), 10);
        assert!(severity("11").is_err());
        assert!(severity("urgent").is_err());
    }
}
