//! Revisions of KPI targets (目標値の見直し): inserted with the KPI's new target, never changed.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{kpi_target_revisions, kpis};
use super::DbConnection;
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = kpi_target_revisions)]
pub struct RevisionRow {
    pub id: i64,
    pub kpi_id: i64,
    pub previous_value: Option<String>,
    pub previous_year: i32,
    pub value: Option<String>,
    pub year: i32,
    pub reason: String,
    pub revised_by: String,
    pub revised_at: NaiveDateTime,
}

/// A new target and why it replaces the current one.
#[derive(Debug, Clone)]
pub struct Revision {
    pub value: Option<String>,
    pub year: i32,
    pub reason: String,
    pub revised_by: String,
    /// When it was decided: now for a revision made here, the recorded time for an imported one.
    pub revised_at: NaiveDateTime,
}

/// The revisions of many KPIs, oldest first per KPI: one query.
pub fn of_kpis(conn: &mut DbConnection, kpi_ids: &[i64]) -> Result<HashMap<i64, Vec<RevisionRow>>, ApiError> {
    let mut revisions: HashMap<i64, Vec<RevisionRow>> = HashMap::new();
    for row in kpi_target_revisions::table
        .filter(kpi_target_revisions::kpi_id.eq_any(kpi_ids))
        .order((kpi_target_revisions::kpi_id, kpi_target_revisions::id))
        .select(RevisionRow::as_select())
        .load::<RevisionRow>(conn)?
    {
        revisions.entry(row.kpi_id).or_default().push(row);
    }
    Ok(revisions)
}

/// Records a revision from the KPI's current target; the caller then sets the new target on the
/// KPI in the same transaction.
pub fn record(conn: &mut DbConnection, kpi_id: i64, revision: &Revision) -> Result<(), ApiError> {
    let (previous_value, previous_year): (Option<String>, i32) = kpis::table
        .find(kpi_id)
        .select((kpis::target_value, kpis::target_year))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("KPI", kpi_id))?;
    diesel::insert_into(kpi_target_revisions::table)
        .values((
            kpi_target_revisions::kpi_id.eq(kpi_id),
            kpi_target_revisions::previous_value.eq(previous_value),
            kpi_target_revisions::previous_year.eq(previous_year),
            kpi_target_revisions::value.eq(&revision.value),
            kpi_target_revisions::year.eq(revision.year),
            kpi_target_revisions::reason.eq(&revision.reason),
            kpi_target_revisions::revised_by.eq(&revision.revised_by),
            kpi_target_revisions::revised_at.eq(revision.revised_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn count_of_kpi(conn: &mut DbConnection, kpi: i64) -> Result<i64, ApiError> {
    Ok(super::count_of!(conn, kpi_target_revisions, kpi_id, kpi))
}
