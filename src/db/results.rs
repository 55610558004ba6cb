//! Yearly KPI results (実績値) and the grading schemes of plans.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{kpi_results, kpis, plans};
use super::DbConnection;
use crate::domain::progress::{default_scheme, GradeStep};
use crate::error::ApiError;

/// `status` of a result that has a value.
pub const MEASURED: &str = "measured";
/// `status` of a year whose figure could not be taken (the survey was not held, say).
pub const NOT_MEASURABLE: &str = "not_measurable";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = kpi_results)]
pub struct ResultRow {
    pub id: i64,
    pub kpi_id: i64,
    pub year: i32,
    pub value: Option<String>,
    pub status: String,
    pub note: Option<String>,
    pub source: Option<String>,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

/// What a PUT stores for one year.
#[derive(Debug, Clone)]
pub struct ResultValues {
    pub value: Option<String>,
    pub status: &'static str,
    pub note: Option<String>,
    pub source: Option<String>,
}

pub fn of_kpi(conn: &mut DbConnection, kpi: i64) -> Result<Vec<ResultRow>, ApiError> {
    Ok(kpi_results::table
        .filter(kpi_results::kpi_id.eq(kpi))
        .order(kpi_results::year)
        .select(ResultRow::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, kpi: i64, year: i32) -> Result<Option<ResultRow>, ApiError> {
    Ok(kpi_results::table
        .filter(kpi_results::kpi_id.eq(kpi))
        .filter(kpi_results::year.eq(year))
        .select(ResultRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest result of each KPI: one query for a whole page.
pub fn latest_of(
    conn: &mut DbConnection,
    kpi_ids: &[i64],
) -> Result<HashMap<i64, ResultRow>, ApiError> {
    let mut latest = HashMap::new();
    for row in kpi_results::table
        .filter(kpi_results::kpi_id.eq_any(kpi_ids))
        .order((kpi_results::kpi_id, kpi_results::year))
        .select(ResultRow::as_select())
        .load::<ResultRow>(conn)?
    {
        latest.insert(row.kpi_id, row);
    }
    Ok(latest)
}

/// Creates or replaces one year's result; says whether it created it.
pub fn put(
    conn: &mut DbConnection,
    kpi: i64,
    year: i32,
    values: &ResultValues,
) -> Result<bool, ApiError> {
    let now = super::now();
    let updated = diesel::update(
        kpi_results::table
            .filter(kpi_results::kpi_id.eq(kpi))
            .filter(kpi_results::year.eq(year)),
    )
    .set((
        kpi_results::value.eq(&values.value),
        kpi_results::status.eq(values.status),
        kpi_results::note.eq(&values.note),
        kpi_results::source.eq(&values.source),
        kpi_results::version.eq(kpi_results::version + 1),
        kpi_results::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated > 0 {
        return Ok(false);
    }
    diesel::insert_into(kpi_results::table)
        .values((
            kpi_results::kpi_id.eq(kpi),
            kpi_results::year.eq(year),
            kpi_results::value.eq(&values.value),
            kpi_results::status.eq(values.status),
            kpi_results::note.eq(&values.note),
            kpi_results::source.eq(&values.source),
            kpi_results::created_at.eq(now),
            kpi_results::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn delete(conn: &mut DbConnection, kpi: i64, year: i32) -> Result<(), ApiError> {
    diesel::delete(
        kpi_results::table
            .filter(kpi_results::kpi_id.eq(kpi))
            .filter(kpi_results::year.eq(year)),
    )
    .execute(conn)?;
    Ok(())
}

pub fn count_of_kpi(conn: &mut DbConnection, kpi: i64) -> Result<i64, ApiError> {
    Ok(super::count_of!(conn, kpi_results, kpi_id, kpi))
}

/// A plan's grading scheme (the default where none is set).
pub fn parse_scheme(stored: Option<&str>) -> Vec<GradeStep> {
    stored
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(default_scheme)
}

/// The grading schemes of the plans of these KPIs.
pub fn schemes_of(
    conn: &mut DbConnection,
    plan_ids: &[i64],
) -> Result<HashMap<i64, Vec<GradeStep>>, ApiError> {
    Ok(plans::table
        .filter(plans::id.eq_any(plan_ids))
        .select((plans::id, plans::grading_scheme))
        .load::<(i64, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, scheme)| (id, parse_scheme(scheme.as_deref())))
        .collect())
}

/// Whether a KPI exists, and its plan.
pub fn kpi_plan(conn: &mut DbConnection, kpi: i64) -> Result<Option<i64>, ApiError> {
    Ok(super::plan_of!(conn, kpis, kpi))
}

/// A KPI with what its progress is computed from.
#[derive(Debug, Clone)]
pub struct KpiFacts {
    pub kpi: super::kpis::KpiRow,
    pub latest: Option<ResultRow>,
    pub scheme: Vec<GradeStep>,
}

/// Adds latest results and grading schemes to KPI rows: two queries, whatever the number of rows.
pub fn facts(
    conn: &mut DbConnection,
    rows: Vec<super::kpis::KpiRow>,
) -> Result<Vec<KpiFacts>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut plan_ids: Vec<i64> = rows.iter().map(|row| row.plan_id).collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let mut latest = latest_of(conn, &ids)?;
    let schemes = schemes_of(conn, &plan_ids)?;
    Ok(rows
        .into_iter()
        .map(|kpi| KpiFacts {
            latest: latest.remove(&kpi.id),
            scheme: schemes
                .get(&kpi.plan_id)
                .cloned()
                .unwrap_or_else(default_scheme),
            kpi,
        })
        .collect())
}
