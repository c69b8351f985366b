//! Message catalogues: every word the console shows comes from
//! `i18n/<lang>.toml`, a flat table of key = text. Chinese is the default.
//! A test checks that both catalogues hold the same keys and that every key
//! the templates and handlers use exists.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct Catalog {
    pub lang: &'static str,
    texts: HashMap<String, String>,
}

const SOURCES: [(&str, &str); 2] = [("zh-CN", include_str!("../i18n/zh-CN.toml")), ("en", include_str!("../i18n/en.toml"))];

fn load(lang: &'static str, src: &str) -> Catalog {
    // The catalogues are compiled in; a syntax error is caught by the tests.
    let table: toml::Table = src.parse().unwrap_or_else(|e| panic!("i18n/{lang}.toml: {e}"));
    let texts = table.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect();
    Catalog { lang, texts }
}

/// The catalogue for `lang`; anything but English gets Chinese.
pub fn catalog(lang: &str) -> &'static Catalog {
    static ALL: OnceLock<[Catalog; 2]> = OnceLock::new();
    let all = ALL.get_or_init(|| SOURCES.map(|(l, s)| load(l, s)));
    if lang == "en" { &all[1] } else { &all[0] }
}

impl Catalog {
    /// The text for `key`, or the key itself (visible, so a gap is noticed).
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).map_or(key, String::as_str)
    }

    /// `t` with `{name}` placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut s = self.t(key).to_string();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), &value.to_string());
        }
        s
    }

    pub fn is_en(&self) -> bool {
        self.lang == "en"
    }

    /// A name in the catalogue's language, given both.
    pub fn pick<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        if self.is_en() && !en.is_empty() { en } else { zh }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lang: &str) -> std::collections::BTreeSet<String> {
        catalog(lang).texts.keys().cloned().collect()
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let (zh, en) = (keys("zh-CN"), keys("en"));
        assert_eq!(zh.difference(&en).collect::<Vec<_>>(), Vec::<&String>::new(), "in zh-CN only");
        assert_eq!(en.difference(&zh).collect::<Vec<_>>(), Vec::<&String>::new(), "in en only");
        assert!(zh.len() > 100, "{}", zh.len());
    }

    /// Every `t("key")` / `tf("key"` in templates and sources names a key.
    #[test]
    fn every_key_used_exists() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let known = keys("zh-CN");
        let mut missing = Vec::new();
        for dir in ["templates", "src"] {
            for entry in std::fs::read_dir(here.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.ends_with("i18n.rs") {
                    continue; // this file's own examples
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for pat in ["t(\"", "tf(\""] {
                    for (i, _) in text.match_indices(pat) {
                        // `f.t("…")`, `t.t("…")`, not `asset("…")`.
                        if text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                            continue;
                        }
                        let rest = &text[i + pat.len()..];
                        let key = &rest[..rest.find('"').unwrap()];
                        if !key.is_empty() && !known.contains(key) && !key.contains('{') {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys not in the catalogues:\n{}", missing.join("\n"));
    }

    /// Keys made from enum names and kept in tables.
    #[test]
    fn every_computed_key_exists() {
        use shouwang_workflow::{Action, Kind, Outcome, State};
        let known = keys("zh-CN");
        let mut want: Vec<String> = Vec::new();
        want.extend(State::ALL.iter().map(|s| format!("state.{s}")));
        want.extend(Action::ALL.iter().map(|a| format!("action.{a}")));
        want.extend(Outcome::ALL.iter().map(|o| format!("outcome.{o}")));
        want.extend(Kind::ALL.iter().map(|k| format!("kind.{k}")));
        want.extend(shouwang_store::Role::ALL.iter().map(|r| crate::frame::role_key(*r).to_string()));
        for k in [
            "nav.board",
            "nav.alerts",
            "nav.notices",
            "nav.my_notices",
            "nav.units",
            "nav.audit",
            "error.csrf",
            "error.cross_site",
            "login.wrong",
            "login.wrong_code",
            "login.limited",
        ] {
            want.push(k.to_string());
        }
        let missing: Vec<_> = want.iter().filter(|k| !known.contains(*k)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
