//! The GB/T 20986-2023 category table (ten categories, 75 subcategories),
//! loaded from its CSV. The short codes are provisional (not yet checked
//! against the standard's Annex B), which is why the table is data. The
//! names of the scheme it replaced, GB/Z 20986-2007, are kept as aliases so
//! old records and feeds that still use them land in the 2023 table.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::GradeError;

/// The edition the built-in table is.
pub const EDITION: &str = "GB/T 20986-2023";
/// The edition whose names are aliases.
pub const OLD_EDITION: &str = "GB/Z 20986-2007";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Subcategory code, e.g. `NAEXPLOIT`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Its category, e.g. `NA` 网络攻击事件.
    pub parent_code: String,
    pub parent_zh: String,
    pub parent_en: String,
}

pub struct Categories {
    pub edition: String,
    by_code: BTreeMap<String, Category>,
    /// Chinese names, this edition's and the aliases', → (code, edition).
    pub(crate) by_name: BTreeMap<String, (String, String)>,
}

impl Categories {
    /// The table built in (GB/T 20986-2023).
    pub fn builtin() -> Categories {
        let mut c =
            Categories::from_csv(EDITION, include_str!("../data/gbt20986-2023.csv")).expect("the built-in category table parses (tested)");
        c.add_aliases(OLD_EDITION, include_str!("../data/gbz20986-2007.csv")).expect("the built-in 2007 aliases parse (tested)");
        c
    }

    /// Names of an older edition, from CSV with the columns `category_zh,
    /// subcategory_zh, code_2023` (a category without subcategories leaves
    /// the second empty). Each must lead to a code of this table, and no
    /// name may lead to two.
    pub fn add_aliases(&mut self, edition: &str, text: &str) -> Result<(), GradeError> {
        let err = |why: String| GradeError::Data { what: format!("{edition} aliases"), why };
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for (n, row) in rdr.records().enumerate() {
            let row = row.map_err(|e| err(format!("row {}: {e}", n + 2)))?;
            let f = |i: usize| row.get(i).map(str::trim).unwrap_or_default();
            let (name, code) = (normal_name(if f(1).is_empty() { f(0) } else { f(1) }), f(2));
            if self.get(code).is_none() {
                return Err(err(format!("row {}: `{code}` is not a {} subcategory", n + 2, self.edition)));
            }
            match self.by_name.get(&name) {
                Some((c, _)) if c != code => return Err(err(format!("row {}: `{name}` already leads to `{c}`", n + 2))),
                Some(_) => {}
                None => {
                    self.by_name.insert(name, (code.to_string(), edition.to_string()));
                }
            }
        }
        Ok(())
    }

    /// The subcategory a Chinese name stands for, in this edition or an
    /// alias's, with the edition that names it.
    pub fn by_name(&self, name: &str) -> Option<(&Category, &str)> {
        let (code, edition) = self.by_name.get(&normal_name(name))?;
        Some((self.get(code)?, edition))
    }

    /// A table from CSV with the columns `category_code, category_zh,
    /// category_en, subcategory_code, subcategory_zh, subcategory_en`.
    pub fn from_csv(edition: &str, text: &str) -> Result<Categories, GradeError> {
        let err = |why: String| GradeError::Data { what: format!("category table {edition}"), why };
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut by_code = BTreeMap::new();
        let mut by_name = BTreeMap::new();
        for (n, row) in rdr.records().enumerate() {
            let row = row.map_err(|e| err(format!("row {}: {e}", n + 2)))?;
            let f = |i: usize| row.get(i).map(str::trim).unwrap_or_default().to_string();
            let c = Category { code: f(3), name_zh: f(4), name_en: f(5), parent_code: f(0), parent_zh: f(1), parent_en: f(2) };
            if c.code.is_empty() || c.parent_code.is_empty() {
                return Err(err(format!("row {}: a code is empty", n + 2)));
            }
            by_name.insert(normal_name(&c.name_zh), (c.code.clone(), edition.to_string()));
            if by_code.insert(c.code.clone(), c).is_some() {
                return Err(err(format!("row {}: duplicate code `{}`", n + 2, f(3))));
            }
        }
        Ok(Categories { edition: edition.to_string(), by_code, by_name })
    }

    pub fn get(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code)
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Category> {
        self.by_code.values()
    }
}

/// A name as looked up: trimmed, and `其它` written `其他` (the 2007 text
/// uses both).
pub(crate) fn normal_name(name: &str) -> String {
    name.trim().replace("其它", "其他")
}
