//! Statements sent together. sqlx runs each SQLite connection on a thread
//! of its own, so every statement is a round trip between threads; on the
//! 2-core virtual machine the benchmarks run on one costs about 100 µs,
//! more than the statements of a notice move themselves. A batch goes to
//! SQLite as one multi-statement query: one round trip. PostgreSQL's
//! extended protocol takes one statement per query, so there a batch runs
//! statement by statement.

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use crate::Result;

/// A parameter value.
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}

/// Statements to run in order, each written with its own `$1…` parameters.
#[derive(Default)]
pub(crate) struct Batch {
    statements: Vec<(String, Vec<Arg>)>,
}

impl Batch {
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) {
        self.statements.push((sql.into(), args));
    }

    /// Runs the statements in the caller's transaction and returns the rows
    /// they return (`RETURNING`), in statement order.
    pub async fn run(self, tx: &mut Transaction<'_, Any>) -> Result<Vec<AnyRow>> {
        if self.statements.is_empty() {
            return Ok(Vec::new());
        }
        if tx.backend_name() != "SQLite" {
            let mut rows = Vec::new();
            for (sql, args) in self.statements {
                rows.extend(bind(sqlx::query(&sql), args).fetch_all(&mut **tx).await?);
            }
            return Ok(rows);
        }
        // sqlx binds `$n` in every statement of a multi-statement query to
        // the n-th value, so each statement's parameters move up past those
        // of the statements before it.
        let (mut sql, mut all) = (String::new(), Vec::new());
        for (text, args) in self.statements {
            sql.push_str(&shift(&text, all.len()));
            sql.push_str(";\n");
            all.extend(args);
        }
        Ok(bind(sqlx::query(&sql), all).fetch_all(&mut **tx).await?)
    }
}

fn bind<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
        };
    }
    q
}

/// `sql` with every `$n` made `$(n + by)`. Our statements are constants
/// with no `$` in a literal, so every `$` starts a parameter.
fn shift(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::shift;

    #[test]
    fn parameters_move_up() {
        assert_eq!(shift("UPDATE t SET a = $1, b = $12 WHERE c = $2", 10), "UPDATE t SET a = $11, b = $22 WHERE c = $12");
        assert_eq!(shift("INSERT INTO t VALUES ($1)", 0), "INSERT INTO t VALUES ($1)");
        assert_eq!(shift("SELECT 1", 3), "SELECT 1");
    }
}
