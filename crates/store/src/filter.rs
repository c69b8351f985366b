//! `WHERE` clauses built from optional filters, with numbered parameters:
//! the dialect both backends accept.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use crate::access::Visibility;

pub(crate) enum Bind {
    S(String),
    I(i64),
}

/// `WHERE` clauses and their parameters, numbered as they are added.
#[derive(Default)]
pub(crate) struct Filter {
    pub sql: String,
    binds: Vec<Bind>,
}

impl Filter {
    pub fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    pub fn and(&mut self, clause: &str) {
        self.sql.push_str(if self.sql.is_empty() { " WHERE " } else { " AND " });
        self.sql.push_str(clause);
    }

    /// Only rows of units `vis` sees; unattributed rows only for `All`.
    pub fn visible(&mut self, vis: &Visibility) {
        if let Visibility::Units(units) = vis {
            if units.is_empty() {
                self.and("1 = 0");
                return;
            }
            let mut units: Vec<&String> = units.iter().collect();
            units.sort();
            let params: Vec<String> = units.into_iter().map(|u| self.param(Bind::S(u.clone()))).collect();
            self.and(&format!("unit IN ({})", params.join(", ")));
        }
    }

    /// Binds the parameters, in order, to a query built from `sql`.
    pub fn bind<'q>(self, mut q: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        for b in self.binds {
            q = match b {
                Bind::S(s) => q.bind(s),
                Bind::I(i) => q.bind(i),
            };
        }
        q
    }
}

/// `($1, $2, …), ($n+1, …)`: the VALUES of a multi-row insert of `rows`
/// rows of `cols` parameters each, numbered from 1.
pub(crate) fn rows_of(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
