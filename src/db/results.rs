//! Yearly KPI results (実績値) and the grading schemes of plans.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::kpis::KpiRow;
use super::schema::{kpi_results, plans};
use super::DbConnection;
use crate::domain::kpi::Direction;
use crate::domain::progress::{self, default_scheme, GradeStep};
use crate::error::ApiError;

/// What the audit record and the change feed call a result; their record id is the KPI's.
pub const RESULT_RESOURCE: &str = "kpi_result";

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
    pub analysis: Option<String>,
    pub next_steps: Option<String>,
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
    pub analysis: Option<String>,
    pub next_steps: Option<String>,
}

pub fn of_kpi(conn: &mut DbConnection, kpi: i64) -> Result<Vec<ResultRow>, ApiError> {
    Ok(kpi_results::table
        .filter(kpi_results::kpi_id.eq(kpi))
        .order(kpi_results::year)
        .select(ResultRow::as_select())
        .load(conn)?)
}

/// The results of many KPIs, oldest first per KPI: one query.
pub fn of_kpis(conn: &mut DbConnection, kpi_ids: &[i64]) -> Result<Vec<ResultRow>, ApiError> {
    Ok(kpi_results::table
        .filter(kpi_results::kpi_id.eq_any(kpi_ids))
        .order((kpi_results::kpi_id, kpi_results::year))
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

/// Which results progress is computed from: the current ones or those recorded by a moment
/// (replayed from the audit history), and at most up to a year (for a yearly evaluation).
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultView {
    pub as_of: Option<NaiveDateTime>,
    pub up_to_year: Option<i32>,
}

/// Every result of these KPIs under the view, oldest first per KPI: one query.
pub fn of_kpis_under(conn: &mut DbConnection, kpi_ids: &[i64], view: ResultView) -> Result<Vec<ResultRow>, ApiError> {
    let mut rows = match view.as_of {
        None => of_kpis(conn, kpi_ids)?,
        Some(at) => {
            let mut rows = recorded_by(conn, kpi_ids, at)?;
            rows.sort_by_key(|row| (row.kpi_id, row.year));
            rows
        }
    };
    if let Some(last) = view.up_to_year {
        rows.retain(|row| row.year <= last);
    }
    Ok(rows)
}

/// The latest result of each KPI under the view: one query for a whole page.
pub fn latest_of(
    conn: &mut DbConnection,
    kpi_ids: &[i64],
    view: ResultView,
) -> Result<HashMap<i64, ResultRow>, ApiError> {
    let mut latest: HashMap<i64, ResultRow> = HashMap::new();
    for row in of_kpis_under(conn, kpi_ids, view)? {
        if latest.get(&row.kpi_id).is_none_or(|kept| kept.year < row.year) {
            latest.insert(row.kpi_id, row);
        }
    }
    Ok(latest)
}

/// The results as they stood at `at`: every audited result write up to then, replayed in order.
fn recorded_by(conn: &mut DbConnection, kpi_ids: &[i64], at: NaiveDateTime) -> Result<Vec<ResultRow>, ApiError> {
    use super::schema::audit_log;
    let writes: Vec<(Option<String>, Option<String>)> = audit_log::table
        .filter(audit_log::resource.eq(RESULT_RESOURCE))
        .filter(audit_log::record_id.eq_any(kpi_ids))
        .filter(audit_log::occurred_at.le(at))
        .order(audit_log::id)
        .select((audit_log::before_json, audit_log::after_json))
        .load(conn)?;
    let mut standing: HashMap<(i64, i32), ResultRow> = HashMap::new();
    for (before, after) in writes {
        match after.as_deref().and_then(result_from_json) {
            Some(row) => {
                standing.insert((row.kpi_id, row.year), row);
            }
            None => {
                if let Some(row) = before.as_deref().and_then(result_from_json) {
                    standing.remove(&(row.kpi_id, row.year));
                }
            }
        }
    }
    Ok(standing.into_values().collect())
}

/// A result from its JSON representation (as the audit record keeps it).
fn result_from_json(json: &str) -> Option<ResultRow> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let text = |key: &str| value[key].as_str().map(str::to_string);
    Some(ResultRow {
        id: 0,
        kpi_id: value["kpi_id"].as_i64()?,
        year: i32::try_from(value["year"].as_i64()?).ok()?,
        value: text("value_text"),
        status: text("status")?,
        note: text("note"),
        source: text("source"),
        analysis: text("analysis"),
        next_steps: text("next_steps"),
        version: value["version"].as_i64().unwrap_or(1),
        updated_at: chrono::DateTime::parse_from_rfc3339(value["updated_at"].as_str()?)
            .ok()?
            .naive_utc(),
    })
}

/// Creates or replaces one year's result; says whether it created it.
pub fn put(conn: &mut DbConnection, kpi: i64, year: i32, values: &ResultValues) -> Result<bool, ApiError> {
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
        kpi_results::analysis.eq(&values.analysis),
        kpi_results::next_steps.eq(&values.next_steps),
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
            kpi_results::analysis.eq(&values.analysis),
            kpi_results::next_steps.eq(&values.next_steps),
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
pub fn schemes_of(conn: &mut DbConnection, plan_ids: &[i64]) -> Result<HashMap<i64, Vec<GradeStep>>, ApiError> {
    Ok(plans::table
        .filter(plans::id.eq_any(plan_ids))
        .select((plans::id, plans::grading_scheme))
        .load::<(i64, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, scheme)| (id, parse_scheme(scheme.as_deref())))
        .collect())
}

/// The progress of a KPI from its latest result.
pub fn progress_of(kpi: &KpiRow, latest: Option<&ResultRow>) -> progress::Computed {
    let number = |text: Option<&str>| text.and_then(|text| text.parse::<f64>().ok());
    let plan = progress::Plan {
        direction: kpi.direction.parse().unwrap_or(Direction::Increase),
        baseline: number(kpi.baseline_value.as_deref()),
        target: number(kpi.target_value.as_deref()),
        baseline_year: kpi.baseline_year,
        target_year: kpi.target_year,
    };
    let latest = latest.map(|result| match number(result.value.as_deref()) {
        Some(value) if result.status != NOT_MEASURABLE => progress::Latest::Value {
            year: result.year,
            value,
        },
        _ => progress::Latest::NotMeasurable { year: result.year },
    });
    progress::compute(&plan, latest)
}

/// Stores a KPI's current status after a write of it or of its results (for `?status=`).
pub fn refresh_status(conn: &mut DbConnection, kpi_id: i64) -> Result<(), ApiError> {
    use super::schema::kpis;
    let kpi = super::kpis::get(conn, kpi_id)?;
    let latest = latest_of(conn, &[kpi_id], ResultView::default())?.remove(&kpi_id);
    let status = progress_of(&kpi, latest.as_ref()).status;
    diesel::update(kpis::table.find(kpi_id))
        .set(kpis::progress_status.eq(status.as_str()))
        .execute(conn)?;
    Ok(())
}

/// A KPI with what its progress is computed from.
#[derive(Debug, Clone)]
pub struct KpiFacts {
    pub kpi: KpiRow,
    pub latest: Option<ResultRow>,
    pub scheme: Vec<GradeStep>,
    /// Revisions of its target, oldest first.
    pub revisions: Vec<super::revisions::RevisionRow>,
}

impl KpiFacts {
    /// The KPI with the target it had at `at`: revisions made later are undone.
    fn standing_at(mut self, at: NaiveDateTime) -> Self {
        let Some(first_later) = self.revisions.iter().position(|revision| revision.revised_at > at) else {
            return self;
        };
        let undone = &self.revisions[first_later];
        self.kpi = retargeted(&self.kpi, undone.previous_value.clone(), undone.previous_year);
        self.revisions.truncate(first_later);
        self
    }

    /// The KPI as it was before its target was first revised, if it was.
    pub fn with_original_target(&self) -> Option<KpiRow> {
        let first = self.revisions.first()?;
        Some(retargeted(&self.kpi, first.previous_value.clone(), first.previous_year))
    }
}

/// A KPI judged against another target; its direction is that target's, where the baseline gives one.
fn retargeted(kpi: &KpiRow, value: Option<String>, year: i32) -> KpiRow {
    let direction = match &kpi.baseline_value {
        Some(baseline) => crate::domain::kpi::direction(Some(baseline), value.as_deref())
            .as_str()
            .to_string(),
        None => kpi.direction.clone(),
    };
    KpiRow {
        target_value: value,
        target_year: year,
        direction,
        ..kpi.clone()
    }
}

/// Adds latest results, grading schemes and target revisions to KPI rows: three queries, whatever
/// the number of rows.
pub fn facts(conn: &mut DbConnection, rows: Vec<super::kpis::KpiRow>) -> Result<Vec<KpiFacts>, ApiError> {
    facts_under(conn, rows, ResultView::default())
}

/// The same, from the results of a view; looking back to a moment, each target is the one the KPI
/// had then.
pub fn facts_under(
    conn: &mut DbConnection,
    rows: Vec<super::kpis::KpiRow>,
    view: ResultView,
) -> Result<Vec<KpiFacts>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut plan_ids: Vec<i64> = rows.iter().map(|row| row.plan_id).collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    let mut latest = latest_of(conn, &ids, view)?;
    let schemes = schemes_of(conn, &plan_ids)?;
    let mut revisions = super::revisions::of_kpis(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|kpi| {
            let facts = KpiFacts {
                latest: latest.remove(&kpi.id),
                revisions: revisions.remove(&kpi.id).unwrap_or_default(),
                scheme: schemes.get(&kpi.plan_id).cloned().unwrap_or_else(default_scheme),
                kpi,
            };
            match view.as_of {
                Some(at) => facts.standing_at(at),
                None => facts,
            }
        })
        .collect())
}
