//! From what a detection carries to a GB/T 20986 subcategory, by a mapping
//! that is data (`data/category_map.toml`): the first entry, in file order,
//! that matches any of the detection's labels wins.

use serde::{Deserialize, Serialize};

use crate::{Categories, GradeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// A Sigma rule tag (`attack.t1190`, `cve.2021-44228`).
    Tag,
    /// A Suricata alert category.
    Suricata,
    /// A Shadowserver report type (`scan_rdp`).
    Shadowserver,
    /// A tag on a matched threat indicator.
    IndicatorTag,
}

/// One thing a detection says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    pub source: LabelSource,
    pub value: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    source: LabelSource,
    #[serde(rename = "match")]
    pattern: String,
    category: String,
}

#[derive(Debug, Deserialize)]
struct File {
    version: String,
    map: Vec<Entry>,
}

pub struct CategoryMap {
    pub version: String,
    entries: Vec<Entry>,
    /// Category names (this edition's and older editions'), → (code, edition).
    names: std::collections::BTreeMap<String, (String, String)>,
}

/// A proposed category and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub code: String,
    pub reason: String,
}

impl CategoryMap {
    pub fn builtin(categories: &Categories) -> CategoryMap {
        CategoryMap::from_toml(include_str!("../data/category_map.toml"), categories).expect("the built-in category map parses (tested)")
    }

    /// Parses a mapping; every category it names must be in `categories`.
    pub fn from_toml(text: &str, categories: &Categories) -> Result<CategoryMap, GradeError> {
        let err = |why: String| GradeError::Data { what: "category map".into(), why };
        let f: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for (n, e) in f.map.iter().enumerate() {
            if categories.get(&e.category).is_none() {
                return Err(err(format!("entry {}: `{}` is not a {} subcategory", n + 1, e.category, categories.edition)));
            }
            if e.pattern.is_empty() {
                return Err(err(format!("entry {}: empty match", n + 1)));
            }
        }
        Ok(CategoryMap { version: f.version, entries: f.map, names: categories.by_name.clone() })
    }

    /// A label that is itself a subcategory's Chinese name (as Chinese
    /// feeds tag, in this edition or GB/Z 20986-2007) gives that category;
    /// otherwise the first matching entry does, or `None` (the analyst
    /// classifies it; nothing is guessed).
    pub fn classify(&self, labels: &[Label<'_>]) -> Option<Classified> {
        let named = labels.iter().find_map(|l| {
            let (code, edition) = self.names.get(&crate::categories::normal_name(l.value))?;
            Some(Classified {
                code: code.clone(),
                reason: format!("{} `{}` is the {edition} name of {code}", source_name(l.source), l.value),
            })
        });
        named.or_else(|| self.by_entry(labels))
    }

    fn by_entry(&self, labels: &[Label<'_>]) -> Option<Classified> {
        self.entries.iter().find_map(|e| {
            labels.iter().find(|l| l.source == e.source && glob(&e.pattern, l.value)).map(|l| Classified {
                code: e.category.clone(),
                reason: format!(
                    "{} `{}` matches `{}` → {} (category map {})",
                    source_name(l.source),
                    l.value,
                    e.pattern,
                    e.category,
                    self.version
                ),
            })
        })
    }
}

fn source_name(s: LabelSource) -> &'static str {
    match s {
        LabelSource::Tag => "rule tag",
        LabelSource::Suricata => "Suricata category",
        LabelSource::Shadowserver => "Shadowserver report",
        LabelSource::IndicatorTag => "indicator tag",
    }
}

/// Case-insensitive match where `*` stands for any run of characters.
fn glob(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.to_ascii_lowercase(), value.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == v;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !v.starts_with(first) || !v[first.len()..].ends_with(last) || v.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &v[first.len()..v.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("attack.t1110*", "attack.t1110.001"));
        assert!(glob("ATTACK.T1190", "attack.t1190"));
        assert!(!glob("attack.t1190", "attack.t1190.001"));
        assert!(glob("*miner*", "coinminer-xmrig"));
        assert!(glob("*", "anything"));
        assert!(glob("scan*", "scan_rdp"));
        assert!(!glob("scan*", "event4_scan"));
        assert!(!glob("ab*ab", "ab"));
    }
}
