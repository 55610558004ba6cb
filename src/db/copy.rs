//! Whole databases moved and kept: `strategy-api copy` (SQLite ↔ Postgres, or between two of a
//! kind) with a digest per table that proves both hold the same, and `strategy-api backup` (a
//! consistent copy of a running SQLite database).

use diesel::prelude::*;
use diesel::sql_types::Text;
use sha2::{Digest, Sha256};

use super::{Backend, Database, DbConnection};
use crate::error::ApiError;

/// How a column's values are written in SQL and compared across backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Text,
    Bool,
    Time,
}

use Kind::{Bool, Integer, Real, Text as Txt, Time};

/// A table: its name, its columns and how they are written, and the order its rows are read in.
type Table = (&'static str, &'static [(&'static str, Kind)], &'static str);

/// Every table, parents before children, with its columns and the order its rows are read in.
/// `a_copied_table_has_every_column_of_the_schema` keeps this list and the migrations in step.
const TABLES: &[Table] = &[
    (
        "plans",
        &[
            ("id", Integer),
            ("code", Txt),
            ("name", Txt),
            ("document_title", Txt),
            ("municipality_code", Txt),
            ("municipality_name", Txt),
            ("prefecture", Txt),
            ("period_start_year", Integer),
            ("period_end_year", Integer),
            ("grading_scheme", Txt),
            ("publisher", Txt),
            ("source_url", Txt),
            ("published_on", Txt),
            ("licence", Txt),
            ("licence_url", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
            ("description", Txt),
            ("keywords", Txt),
            ("contact_name", Txt),
            ("contact_email", Txt),
            ("contact_url", Txt),
        ],
        "id",
    ),
    (
        "source_corrections",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("record", Txt),
            ("field", Txt),
            ("published", Txt),
            ("normalised", Txt),
            ("reason", Txt),
        ],
        "id",
    ),
    (
        "departments",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("code", Txt),
            ("name", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "divisions",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("department_id", Integer),
            ("code", Txt),
            ("name", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "goals",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("code", Txt),
            ("number", Integer),
            ("category", Txt),
            ("title", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "measures",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("goal_id", Integer),
            ("code", Txt),
            ("number", Integer),
            ("title", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "initiatives",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("measure_id", Integer),
            ("code", Txt),
            ("number", Integer),
            ("title", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "kpis",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("initiative_id", Integer),
            ("code", Txt),
            ("name", Txt),
            ("unit", Txt),
            ("cumulative", Bool),
            ("direction", Txt),
            ("baseline_value", Txt),
            ("baseline_year", Integer),
            ("baseline_year_type", Txt),
            ("target_value", Txt),
            ("target_year", Integer),
            ("target_year_type", Txt),
            ("search_text", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
            ("progress_status", Txt),
            ("source", Txt),
        ],
        "id",
    ),
    (
        "kpi_search_grams",
        &[("gram", Txt), ("kpi_id", Integer)],
        "gram, kpi_id",
    ),
    (
        "kpi_results",
        &[
            ("id", Integer),
            ("kpi_id", Integer),
            ("year", Integer),
            ("value", Txt),
            ("status", Txt),
            ("note", Txt),
            ("source", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
            ("analysis", Txt),
            ("next_steps", Txt),
        ],
        "id",
    ),
    (
        "kpi_target_revisions",
        &[
            ("id", Integer),
            ("kpi_id", Integer),
            ("previous_value", Txt),
            ("previous_year", Integer),
            ("value", Txt),
            ("year", Integer),
            ("reason", Txt),
            ("revised_by", Txt),
            ("revised_at", Time),
        ],
        "id",
    ),
    (
        "projects",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("code", Txt),
            ("name", Txt),
            ("account", Txt),
            ("search_text", Txt),
            ("version", Integer),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "project_divisions",
        &[("project_id", Integer), ("division_id", Integer), ("position", Integer)],
        "project_id, division_id",
    ),
    (
        "project_appearances",
        &[
            ("id", Integer),
            ("project_id", Integer),
            ("initiative_id", Integer),
            ("position", Integer),
            ("description", Txt),
            ("search_text", Txt),
        ],
        "id",
    ),
    (
        "evaluations",
        &[
            ("id", Integer),
            ("plan_id", Integer),
            ("fiscal_year", Integer),
            ("title", Txt),
            ("created_by", Txt),
            ("created_at", Time),
        ],
        "id",
    ),
    (
        "evaluation_items",
        &[
            ("id", Integer),
            ("evaluation_id", Integer),
            ("kpi_id", Integer),
            ("kpi_code", Txt),
            ("kpi_name", Txt),
            ("unit", Txt),
            ("direction", Txt),
            ("baseline_value", Txt),
            ("target_value", Txt),
            ("result_year", Integer),
            ("result_value", Txt),
            ("achievement", Real),
            ("expected", Real),
            ("status", Txt),
            ("grade", Txt),
            ("target_year", Integer),
            ("original_target_value", Txt),
            ("original_target_year", Integer),
            ("original_achievement", Real),
        ],
        "id",
    ),
    (
        "audit_log",
        &[
            ("id", Integer),
            ("occurred_at", Time),
            ("subject", Txt),
            ("jti", Txt),
            ("method", Txt),
            ("resource", Txt),
            ("record_id", Integer),
            ("operation", Txt),
            ("before_json", Txt),
            ("after_json", Txt),
        ],
        "id",
    ),
    (
        "webhook_subscriptions",
        &[
            ("id", Integer),
            ("url", Txt),
            ("description", Txt),
            ("resources", Txt),
            ("operations", Txt),
            ("plan_id", Integer),
            ("status", Txt),
            ("secret", Txt),
            ("previous_secret", Txt),
            ("previous_secret_expires_at", Time),
            ("last_error", Txt),
            ("last_error_at", Time),
            ("retry_at", Time),
            ("lease_owner", Txt),
            ("lease_until", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
        "id",
    ),
    (
        "webhook_deliveries",
        &[
            ("id", Integer),
            ("subscription_id", Integer),
            ("change_id", Integer),
            ("message_id", Txt),
            ("status", Txt),
            ("attempts", Integer),
            ("first_attempt_at", Time),
            ("next_attempt_at", Time),
            ("last_attempt_at", Time),
            ("last_status", Integer),
            ("last_error", Txt),
            ("delivered_at", Time),
            ("created_at", Time),
        ],
        "id",
    ),
    (
        "webhook_attempts",
        &[
            ("id", Integer),
            ("delivery_id", Integer),
            ("attempted_at", Time),
            ("status_code", Integer),
            ("error", Txt),
            ("duration_ms", Integer),
        ],
        "id",
    ),
    (
        "api_tokens",
        &[
            ("issuer", Txt),
            ("jti", Txt),
            ("subject", Txt),
            ("scopes", Txt),
            ("department_id", Integer),
            ("issued_at", Time),
            ("expires_at", Time),
            ("revoked_at", Time),
            ("plan", Txt),
        ],
        "issuer, jti",
    ),
    (
        "data_version",
        &[("id", Integer), ("version", Integer), ("changed_at", Time)],
        "id",
    ),
];

/// Rows per INSERT statement.
const BATCH: usize = 500;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// A table's rows, each as a JSON array of its columns, in the table's order.
fn rows_of(
    conn: &mut DbConnection,
    table: &str,
    columns: &[(&str, Kind)],
    order: &str,
) -> Result<Vec<Vec<serde_json::Value>>, ApiError> {
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    let expressions: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind {
            // SQLite's JSON writes a REAL with 15 digits; 17 keep every bit of the double.
            Real if sqlite => format!("CASE WHEN {name} IS NULL THEN NULL ELSE printf('%!.17g', {name}) END"),
            _ => name.to_string(),
        })
        .collect();
    let array = if sqlite {
        format!("json_array({})", expressions.join(", "))
    } else {
        format!("json_build_array({})::text", expressions.join(", "))
    };
    // Text orders by code point on both backends, whatever the Postgres database's collation.
    let order: Vec<String> = order
        .split(", ")
        .map(|column| match columns.iter().find(|(name, _)| *name == column) {
            Some((_, Txt)) if !sqlite => format!("{column} COLLATE \"C\""),
            _ => column.to_string(),
        })
        .collect();
    let lines: Vec<Line> = diesel::sql_query(format!(
        "SELECT {array} AS line FROM {table} ORDER BY {}",
        order.join(", ")
    ))
    .load(conn)?;
    lines
        .into_iter()
        .map(|line| serde_json::from_str(&line.line).map_err(|error| ApiError::Internal(format!("{table}: {error}"))))
        .collect()
}

/// A value in the one form both backends agree on: booleans as true/false, times as
/// `YYYY-MM-DD HH:MM:SS.ffffff`, reals by their value.
fn canonical(value: &serde_json::Value, kind: Kind) -> serde_json::Value {
    use serde_json::Value;
    match (kind, value) {
        (_, Value::Null) => Value::Null,
        (Bool, Value::Number(number)) => Value::Bool(number.as_i64() == Some(1)),
        (Time, Value::String(text)) => {
            let text = text.replace('T', " ");
            let parsed = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f");
            Value::String(parsed.map_or(text, |time| time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()))
        }
        (Real, Value::Number(number)) => number.as_f64().map_or(Value::Null, |real| serde_json::json!(real)),
        (Real, Value::String(text)) => text.parse::<f64>().map_or(Value::Null, |real| serde_json::json!(real)),
        (Integer, Value::Number(number)) => number.as_i64().map_or(value.clone(), Value::from),
        _ => value.clone(),
    }
}

/// A value as an SQL literal for `conn`'s backend.
fn literal(value: &serde_json::Value, kind: Kind, conn: &DbConnection) -> String {
    use serde_json::Value;
    let quoted = |text: &str| format!("'{}'", text.replace('\'', "''"));
    match canonical(value, kind) {
        Value::Null => "NULL".into(),
        Value::Bool(flag) => match conn {
            DbConnection::Sqlite(_) => if flag { "1" } else { "0" }.into(),
            DbConnection::Postgres(_) => if flag { "TRUE" } else { "FALSE" }.into(),
        },
        Value::Number(number) => number.to_string(),
        Value::String(text) => quoted(&text),
        other => quoted(&other.to_string()),
    }
}

/// Rows and digest of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDigest {
    pub table: &'static str,
    pub rows: usize,
    /// SHA-256 of the rows in their canonical form, in the table's order.
    pub sha256: String,
}

/// Every table's rows, read in one transaction: a consistent snapshot even while the service writes.
type Snapshot = Vec<(
    &'static str,
    &'static [(&'static str, Kind)],
    Vec<Vec<serde_json::Value>>,
)>;

fn snapshot(conn: &mut DbConnection) -> Result<Snapshot, ApiError> {
    conn.transaction::<_, ApiError, _>(|conn| {
        if matches!(conn, DbConnection::Postgres(_)) {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(conn)?;
        }
        every_row(conn)
    })
}

/// Every table's rows, as the connection's transaction sees them.
fn every_row(conn: &mut DbConnection) -> Result<Snapshot, ApiError> {
    TABLES
        .iter()
        .map(|(table, columns, order)| Ok((*table, *columns, rows_of(conn, table, columns, order)?)))
        .collect()
}

/// Every table's row count and digest: equal digests mean equal contents, whatever the backend.
fn digests(snapshot: &Snapshot) -> Vec<TableDigest> {
    snapshot
        .iter()
        .map(|(table, columns, rows)| digest_of(table, columns, rows))
        .collect()
}

fn digest_of(table: &'static str, columns: &[(&str, Kind)], rows: &[Vec<serde_json::Value>]) -> TableDigest {
    let mut hasher = Sha256::new();
    for row in rows {
        let canonical: Vec<serde_json::Value> = row
            .iter()
            .zip(columns)
            .map(|(value, (_, kind))| canonical(value, *kind))
            .collect();
        hasher.update(serde_json::to_vec(&canonical).unwrap_or_default());
        hasher.update(b"\n");
    }
    TableDigest {
        table,
        rows: rows.len(),
        sha256: hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

/// Whether the database holds anything a copy would overwrite (a fresh one has only its data version).
fn holds_data(conn: &mut DbConnection) -> Result<bool, ApiError> {
    for (table, _, order) in TABLES.iter().filter(|(table, ..)| *table != "data_version") {
        let rows: Vec<Line> =
            diesel::sql_query(format!("SELECT 'x' AS line FROM {table} ORDER BY {order} LIMIT 1")).load(conn)?;
        if !rows.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a copy did.
#[derive(Debug)]
pub struct Copied {
    pub tables: Vec<TableDigest>,
}

/// Copies every table of `from` into `to` (migrated first), ids and all, in one transaction on
/// the target; then compares both digests. A target that holds data is refused unless `force`,
/// which empties it first.
pub fn copy(from: &str, to: &str, force: bool, timeout: std::time::Duration) -> Result<Copied, ApiError> {
    if let Backend::Sqlite { path } = Backend::from_url(from) {
        // Opening a missing file would create it, and copy an empty database over the target:
        // checked before any connection is opened.
        if !std::path::Path::new(&path).is_file() {
            return Err(ApiError::bad_request("--from", format!("{path} is not a SQLite file")));
        }
    }
    let (from, to) = (Database::for_command(from, timeout), Database::for_command(to, timeout));
    // The source is only read: a database of another version is refused, never migrated here.
    if !from.run_blocking(super::is_migrated)? {
        return Err(ApiError::bad_request(
            "--from",
            "the database is not at this version's schema: run `strategy-api migrate` on it first",
        ));
    }
    to.run_blocking(super::migrate)?;
    let source = from.run_blocking(snapshot)?;
    let before = digests(&source);
    // Written and then checked in one transaction: a copy that differs is never committed.
    let after = to.run_blocking(|conn| {
        conn.transaction::<_, ApiError, _>(|conn| {
            if let DbConnection::Postgres(_) = conn {
                // Quotes are the only escapes in the literals below, as the SQL standard has it.
                diesel::sql_query("SET LOCAL standard_conforming_strings = on").execute(conn)?;
            }
            if holds_data(conn)? {
                if !force {
                    return Err(ApiError::Conflict(
                        "the target database already holds data; give --force to replace everything in it".into(),
                    ));
                }
                for (table, ..) in TABLES.iter().rev() {
                    diesel::sql_query(format!("DELETE FROM {table}")).execute(conn)?;
                }
            }
            diesel::sql_query("DELETE FROM data_version").execute(conn)?;
            for (table, columns, rows) in &source {
                insert_rows(conn, table, columns, rows)?;
            }
            let after = digests(&every_row(conn)?);
            if after != before {
                let differing: Vec<&str> = before
                    .iter()
                    .zip(&after)
                    .filter(|(a, b)| a != b)
                    .map(|(a, _)| a.table)
                    .collect();
                return Err(ApiError::Conflict(format!(
                    "nothing was copied: the copy would differ from its source in {}",
                    differing.join(", ")
                )));
            }
            Ok(after)
        })
    })?;
    Ok(Copied { tables: after })
}

fn insert_rows(
    conn: &mut DbConnection,
    table: &str,
    columns: &[(&str, Kind)],
    rows: &[Vec<serde_json::Value>],
) -> Result<(), ApiError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    for batch in rows.chunks(BATCH) {
        let values: Vec<String> = batch
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .iter()
                    .zip(columns)
                    .map(|(value, (_, kind))| literal(value, *kind, conn))
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        diesel::sql_query(format!(
            "INSERT INTO {table} ({}) VALUES {}",
            names.join(", "),
            values.join(", ")
        ))
        .execute(conn)?;
    }
    // Postgres hands out ids from a sequence, which must continue after the copied ones.
    if matches!(conn, DbConnection::Postgres(_)) && names.first() == Some(&"id") {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Writes a consistent copy of a SQLite database to `file` while it serves (`VACUUM INTO`).
pub fn backup(database: &Database, file: &std::path::Path) -> Result<(), ApiError> {
    if !matches!(database.backend(), Backend::Sqlite { .. }) {
        return Err(ApiError::bad_request(
            "DATABASE_URL",
            "backup copies a SQLite database; back up Postgres with pg_dump (see the README)",
        ));
    }
    if file.exists() {
        return Err(ApiError::bad_request(
            "FILE",
            format!("{} exists; name a new file", file.display()),
        ));
    }
    let target = file.to_string_lossy().replace('\'', "''");
    database.run_blocking(|conn| {
        diesel::sql_query(format!("VACUUM INTO '{target}'")).execute(conn)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list of tables copied is the schema the migrations build: no column is left behind.
    #[test]
    fn a_copied_table_has_every_column_of_the_schema() {
        let path = std::env::temp_dir().join(format!("copy-columns-{}.sqlite3", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let database = Database::new(&path.display().to_string(), 1, std::time::Duration::from_secs(5));
        database.run_blocking(super::super::migrate).unwrap();
        let tables: Vec<Line> = database
            .run_blocking(|conn| {
                Ok(diesel::sql_query(
                    "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY name",
                )
                .load(conn)?)
            })
            .unwrap();
        let mut listed: Vec<&str> = TABLES.iter().map(|(table, ..)| *table).collect();
        listed.sort_unstable();
        assert_eq!(tables.iter().map(|line| line.line.as_str()).collect::<Vec<_>>(), listed);
        for (table, columns, _) in TABLES {
            let found: Vec<Line> = database
                .run_blocking(|conn| {
                    Ok(diesel::sql_query(format!(
                        "SELECT name AS line FROM pragma_table_info('{table}') ORDER BY cid"
                    ))
                    .load(conn)?)
                })
                .unwrap();
            let mut found: Vec<String> = found.into_iter().map(|line| line.line).collect();
            let mut expected: Vec<String> = columns.iter().map(|(name, _)| name.to_string()).collect();
            found.sort();
            expected.sort();
            assert_eq!(found, expected, "columns of {table}");
        }
        let _ = std::fs::remove_file(&path);
    }
}
