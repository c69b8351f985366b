//! The GB/T 20986-2023 category table (ten categories, 75 subcategories),
//! loaded from its CSV. The short codes are provisional (not yet checked
//! against the standard's Annex B), which is why the table is data.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::GradeError;

/// The edition the built-in table is.
pub const EDITION: &str = "GB/T 20986-2023";

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
}

impl Categories {
    /// The table built in (GB/T 20986-2023).
    pub fn builtin() -> Categories {
        Categories::from_csv(EDITION, include_str!("../data/gbt20986-2023.csv")).expect("the built-in category table parses (tested)")
    }

    /// A table from CSV with the columns `category_code, category_zh,
    /// category_en, subcategory_code, subcategory_zh, subcategory_en`.
    pub fn from_csv(edition: &str, text: &str) -> Result<Categories, GradeError> {
        let err = |why: String| GradeError::Data { what: format!("category table {edition}"), why };
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut by_code = BTreeMap::new();
        for (n, row) in rdr.records().enumerate() {
            let row = row.map_err(|e| err(format!("row {}: {e}", n + 2)))?;
            let f = |i: usize| row.get(i).map(str::trim).unwrap_or_default().to_string();
            let c = Category { code: f(3), name_zh: f(4), name_en: f(5), parent_code: f(0), parent_zh: f(1), parent_en: f(2) };
            if c.code.is_empty() || c.parent_code.is_empty() {
                return Err(err(format!("row {}: a code is empty", n + 2)));
            }
            if by_code.insert(c.code.clone(), c).is_some() {
                return Err(err(format!("row {}: duplicate code `{}`", n + 2, f(3))));
            }
        }
        Ok(Categories { edition: edition.to_string(), by_code })
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
