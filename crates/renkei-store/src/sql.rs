//! Placeholders for statements that bind many values at once.
//!
//! sqlx's `QueryBuilder` writes the placeholders of the database it is
//! typed for, and for the Any driver that is `?`, which PostgreSQL does not
//! read. Every store here writes `$n`, which both SQLite and PostgreSQL do.

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `columns` values.
///
/// ```
/// assert_eq!(renkei_store::sql::values(2, 3), "($1, $2, $3), ($4, $5, $6)");
/// ```
pub fn values(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …` for `n` values: the inside of an `IN (…)`.
///
/// ```
/// assert_eq!(renkei_store::sql::list(2, 3), "$2, $3, $4");
/// ```
pub fn list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Most parameters bound in one statement.
///
/// Far below SQLite's 32,766 and PostgreSQL's 65,535 on purpose: sqlx binds
/// SQLite parameters by name, and SQLite finds a `$N` name by a linear scan
/// of the statement's names, so binding costs O(parameters²) per statement.
/// At 30,000 parameters that scan was more than half of the intake's CPU
/// time (`perf`: `sqlite3_bind_parameter_name` and `strncmp`); at 256 it
/// is noise, and a statement still carries dozens of rows.
pub const MAX_PARAMETERS: usize = 256;

/// Rows per multi-row statement for `columns` columns: at most 1,000 rows
/// and [`MAX_PARAMETERS`] bound parameters.
pub fn rows_per_statement(columns: usize) -> usize {
    (MAX_PARAMETERS / columns.max(1)).clamp(1, 1000)
}
