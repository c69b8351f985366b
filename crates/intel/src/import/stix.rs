//! STIX 2.1 bundles. Each `indicator` object with a STIX pattern made of
//! equality comparisons on one observable, joined by OR, becomes one
//! indicator per comparison: `[ipv4-addr:value = '192.0.2.1']`,
//! `[domain-name:value = 'evil.example' OR url:value = 'http://…']`,
//! `[file:hashes.'SHA-256' = '…']`. Patterns that need more (AND,
//! FOLLOWEDBY, MATCHES, qualifiers) are reported, not guessed at. TLP comes
//! from `object_marking_refs`: the standard TLP 1.0 and 2.0 marking
//! definitions, or ones defined in the bundle.

use std::collections::HashMap;
use std::io::Read;

use serde_json::Value;

use super::{Defaults, ImportReport, check_validity, time};
use crate::model::{Indicator, Kind, Tlp, canonical};

/// The marking definitions STIX 2.1 fixes for TLP 1.0 and TLP 2.0.
const TLP_MARKINGS: &[(&str, Tlp)] = &[
    ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::Clear),
    ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::Green),
    ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::Amber),
    ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::Red),
    ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::Clear),
    ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::Green),
    ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::Amber),
    ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", Tlp::AmberStrict),
    ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::Red),
];

/// Reads a bundle, calling `add` for each indicator. An error only if the
/// input is not a STIX bundle at all.
pub fn read(input: impl Read, defaults: &Defaults, add: &mut dyn FnMut(Indicator)) -> Result<ImportReport, String> {
    let bundle: Value = serde_json::from_reader(input).map_err(|e| format!("not JSON: {e}"))?;
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err("not a STIX bundle (no \"type\": \"bundle\")".into());
    }
    let objects = bundle.get("objects").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    // Markings defined in the bundle itself, by id.
    let mut markings: HashMap<&str, Tlp> = TLP_MARKINGS.iter().copied().collect();
    for o in objects.iter().filter(|o| o.get("type").and_then(Value::as_str) == Some("marking-definition")) {
        let tlp = o
            .get("name")
            .and_then(Value::as_str)
            .and_then(Tlp::parse)
            .or_else(|| o.pointer("/definition/tlp").and_then(Value::as_str).and_then(Tlp::parse));
        if let (Some(id), Some(tlp)) = (o.get("id").and_then(Value::as_str), tlp) {
            markings.insert(id, tlp);
        }
    }
    let mut report = ImportReport::default();
    for (n, o) in objects.iter().enumerate() {
        report.read += 1;
        let at = format!("objects[{n}]");
        if o.get("type").and_then(Value::as_str) != Some("indicator") {
            report.skipped += 1;
            continue;
        }
        let pattern = o.get("pattern").and_then(Value::as_str).unwrap_or_default();
        if o.get("pattern_type").and_then(Value::as_str).is_some_and(|t| t != "stix") {
            report.reject(at, pattern, format!("pattern_type `{}` is not stix", o["pattern_type"].as_str().unwrap_or_default()));
            continue;
        }
        let base = match base(o, &markings, defaults) {
            Ok(b) => b,
            Err(why) => {
                report.reject(at, pattern, why);
                continue;
            }
        };
        match comparisons(pattern) {
            Err(why) => report.reject(at, pattern, why),
            Ok(list) => {
                for (path, raw) in list {
                    let made = kind_of(&path)
                        .ok_or_else(|| format!("`{path}` is not an observable Shouwang matches"))
                        .and_then(|kind| Ok(Indicator { kind, value: canonical(kind, &raw)?, ..base.clone() }));
                    match made {
                        Ok(i) => {
                            report.loaded += 1;
                            add(i);
                        }
                        Err(why) => report.reject(at.clone(), &raw, why),
                    }
                }
            }
        }
    }
    Ok(report)
}

/// The indicator's metadata, without kind and value.
fn base(o: &Value, markings: &HashMap<&str, Tlp>, defaults: &Defaults) -> Result<Indicator, String> {
    let text = |k: &str| o.get(k).and_then(Value::as_str);
    let tlp = o
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().and_then(|id| markings.get(id)))
        .max()
        .copied()
        .unwrap_or(defaults.tlp);
    let confidence = match o.get("confidence") {
        None | Some(Value::Null) => defaults.confidence,
        Some(c) => c.as_u64().filter(|c| *c <= 100).ok_or_else(|| format!("confidence `{c}` is not 0–100"))? as u8,
    };
    let tags = ["labels", "indicator_types"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let i = Indicator {
        kind: Kind::Ip,
        value: String::new(),
        source: text("created_by_ref").map_or_else(|| defaults.source.clone(), |c| format!("{} ({c})", defaults.source)),
        confidence,
        tlp,
        valid_from: text("valid_from").map(time).transpose()?,
        valid_until: text("valid_until").map(time).transpose()?,
        tags,
    };
    check_validity(&i)?;
    Ok(i)
}

fn kind_of(path: &str) -> Option<Kind> {
    Some(match path {
        "ipv4-addr:value" | "ipv6-addr:value" => Kind::Ip,
        "domain-name:value" => Kind::Domain,
        "url:value" => Kind::Url,
        "email-addr:value" => Kind::Email,
        "file:hashes.MD5" | "file:hashes.'MD5'" => Kind::Md5,
        "file:hashes.'SHA-1'" | "file:hashes.SHA1" => Kind::Sha1,
        "file:hashes.'SHA-256'" | "file:hashes.SHA256" => Kind::Sha256,
        _ => return None,
    })
}

/// `[a = 'x' OR b = 'y'] OR [c = 'z']` → [(a, x), (b, y), (c, z)]. Anything
/// but equality comparisons joined by OR is refused with the reason.
pub fn comparisons(pattern: &str) -> Result<Vec<(String, String)>, String> {
    let too_much = |what: &str| Err(format!("pattern uses {what}: only `=` comparisons joined by OR are supported"));
    let mut out = Vec::new();
    let mut rest = pattern.trim();
    if rest.is_empty() {
        return Err("empty pattern".into());
    }
    let mut in_brackets = false;
    loop {
        rest = rest.trim_start();
        if !in_brackets {
            rest = rest.strip_prefix('[').ok_or("expected `[` to start an observation")?.trim_start();
            in_brackets = true;
        }
        // object path, up to the operator
        let end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '!' || c == '<' || c == '>').ok_or("expected a comparison")?;
        let path = rest[..end].to_string();
        rest = rest[end..].trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            let op: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '\'').collect();
            return too_much(&format!("the operator `{op}`"));
        };
        rest = after.trim_start();
        let (value, after) = quoted(rest)?;
        out.push((path, value));
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(']') {
            in_brackets = false;
            rest = after.trim_start();
            if rest.is_empty() {
                return Ok(out);
            }
        }
        if rest.is_empty() {
            return Err("expected `]` to close the observation".into());
        }
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        match word.as_str() {
            "OR" => rest = &rest[2..],
            "" => return Err(format!("unexpected `{}`", rest.chars().take(20).collect::<String>())),
            other => return too_much(other),
        }
    }
}

/// A single-quoted STIX string (`\'` and `\\` escapes) and what follows it.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('\'').ok_or("expected a quoted value")?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, e @ ('\'' | '\\'))) => value.push(e),
                _ => return Err("bad escape in a quoted value".into()),
            },
            '\'' => return Ok((value, &body[i + 1..])),
            c => value.push(c),
        }
    }
    Err("unterminated quoted value".into())
}

#[cfg(test)]
mod tests {
    use super::comparisons;

    #[test]
    fn patterns_of_equalities_joined_by_or() {
        let p = comparisons("[ipv4-addr:value = '192.0.2.1' OR domain-name:value='evil.example'] OR [file:hashes.'SHA-256' = 'ab\\'c']")
            .unwrap();
        assert_eq!(
            p,
            [
                ("ipv4-addr:value".to_string(), "192.0.2.1".to_string()),
                ("domain-name:value".into(), "evil.example".into()),
                ("file:hashes.'SHA-256'".into(), "ab'c".into())
            ]
        );
        for (bad, why) in [
            ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']", "AND"),
            ("[url:value MATCHES '^http']", "MATCHES"),
            ("[ipv4-addr:value != '1.2.3.4']", "`!=`"),
            ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '5.6.7.8']", "FOLLOWEDBY"),
            ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "WITHIN"),
            ("[ipv4-addr:value = '1.2.3.4", "unterminated"),
            ("ipv4-addr:value = '1.2.3.4'", "expected `[`"),
            ("[ipv4-addr:value = '1.2.3.4'", "expected `]`"),
            ("", "empty"),
        ] {
            let e = comparisons(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
