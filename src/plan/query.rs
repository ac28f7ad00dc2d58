//! Whether a query can be split into chunk queries, decided by a real SQL
//! parser (sqlparser's MySQL dialect) rather than by looking for keywords,
//! which string literals, comments and subqueries would fool.

use sqlparser::ast::{SetExpr, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// Checks that `sql` is one SELECT whose rows do not change when it is run
/// as `SELECT * FROM (<sql>) AS gd_chunk WHERE <range>` for ranges that
/// cover the key line: no top-level LIMIT, ORDER BY, locking or INTO.
/// The error says why and what to do instead.
pub fn check_splittable(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&MySqlDialect {}, sql).map_err(|e| {
        format!(
            "--threads needs a query that gold_digger's SQL parser can read, to know that \
             splitting it keeps every row exactly once, and it cannot read this one ({e}); \
             run it with --threads 1, or export a table with --table NAME --where COND"
        )
    })?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return Err(
            "--threads splits a single SELECT statement only; run other statements with \
             --threads 1"
                .into(),
        );
    };
    let mut query = query.as_ref();
    // `(SELECT … LIMIT 5)`: the parenthesised query is still the top level.
    loop {
        if query.limit_clause.is_some() || query.fetch.is_some() {
            return Err(
                "a top-level LIMIT cannot be split: every chunk would apply it to its own \
                 rows; drop the LIMIT, or run the query with --threads 1"
                    .into(),
            );
        }
        if query.order_by.is_some() {
            return Err(
                "a top-level ORDER BY cannot be kept with --threads: rows from several \
                 connections arrive in no particular order; drop the ORDER BY (and sort the \
                 output afterwards), or run the query with --threads 1"
                    .into(),
            );
        }
        if !query.locks.is_empty() {
            return Err(
                "FOR UPDATE / FOR SHARE cannot be split into chunk queries; run the query \
                 with --threads 1"
                    .into(),
            );
        }
        match query.body.as_ref() {
            SetExpr::Query(inner) => query = inner,
            SetExpr::Select(select) if select.into.is_some() => {
                return Err(
                    "SELECT … INTO writes no result set to export, with or without --threads; drop \
                     the INTO clause"
                        .into(),
                );
            }
            SetExpr::Select(_) | SetExpr::SetOperation { .. } | SetExpr::Values(_) => {
                return Ok(());
            }
            SetExpr::Table(_) => return Ok(()),
            _ => {
                return Err(
                    "--threads splits a single SELECT statement only; run other statements \
                     with --threads 1"
                        .into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_selects_joins_unions_and_subqueries_split() {
        for sql in [
            "SELECT * FROM t",
            "select a, b from t join u on t.id = u.t_id where t.x > 3",
            "SELECT id FROM t UNION ALL SELECT id FROM u",
            "SELECT * FROM (SELECT id FROM t ORDER BY id LIMIT 5) AS x",
            "SELECT id, (SELECT MAX(v) FROM u WHERE u.id = t.id LIMIT 1) AS m FROM t",
            "SELECT 'ORDER BY x LIMIT 3' AS s FROM t",
            "SELECT c, COUNT(*) AS n FROM t GROUP BY c",
            "WITH w AS (SELECT id FROM t) SELECT * FROM w",
        ] {
            assert_eq!(check_splittable(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn what_cannot_be_split_is_refused_with_the_reason() {
        for (sql, why) in [
            ("SELECT * FROM t LIMIT 10", "LIMIT"),
            ("SELECT * FROM t LIMIT 5, 10", "LIMIT"),
            ("(SELECT * FROM t LIMIT 10)", "LIMIT"),
            ("SELECT * FROM t ORDER BY id", "ORDER BY"),
            (
                "SELECT id FROM t UNION SELECT id FROM u ORDER BY id",
                "ORDER BY",
            ),
            ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
            ("SELECT id INTO @x FROM t", "INTO"),
            ("UPDATE t SET a = 1", "single SELECT"),
            ("SHOW TABLES", "single SELECT"),
            ("SELECT 1; SELECT 2", "single SELECT"),
            ("SELEC * FRM t", "cannot read"),
        ] {
            let err = check_splittable(sql).expect_err(sql);
            assert!(err.contains(why), "{sql}: {err}");
            assert!(err.contains("--threads"), "{sql}: {err}");
        }
    }
}
