//! Frozen yearly evaluations: inserted once, never updated or deleted.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{evaluation_items, evaluations};
use super::{load_page, DbConnection, Listing, Page};
use crate::error::ApiError;

super::sortable!(
    EVALUATION_SORT,
    sort_evaluations,
    evaluations,
    [id, fiscal_year, title, created_at]
);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = evaluations)]
pub struct EvaluationRow {
    pub id: i64,
    pub plan_id: i64,
    pub fiscal_year: i32,
    pub title: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// One KPI as it stood in an evaluation.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = evaluation_items)]
pub struct ItemRow {
    pub kpi_id: i64,
    pub kpi_code: String,
    pub kpi_name: String,
    pub unit: String,
    pub direction: String,
    pub baseline_value: Option<String>,
    pub target_value: Option<String>,
    pub result_year: Option<i32>,
    pub result_value: Option<String>,
    pub achievement: Option<f64>,
    pub expected: Option<f64>,
    pub status: String,
    pub grade: Option<String>,
    pub target_year: Option<i32>,
    pub original_target_value: Option<String>,
    pub original_target_year: Option<i32>,
    pub original_achievement: Option<f64>,
}

/// Stores an evaluation with its items; returns its id. Runs inside the serialising write
/// transaction, so the newest id of the plan is this one.
pub fn create(
    conn: &mut DbConnection,
    plan_id: i64,
    fiscal_year: i32,
    title: &str,
    created_by: &str,
    created_at: NaiveDateTime,
    items: &[ItemRow],
) -> Result<i64, ApiError> {
    diesel::insert_into(evaluations::table)
        .values((
            evaluations::plan_id.eq(plan_id),
            evaluations::fiscal_year.eq(fiscal_year),
            evaluations::title.eq(title),
            evaluations::created_by.eq(created_by),
            evaluations::created_at.eq(created_at),
        ))
        .execute(conn)?;
    let id: i64 = evaluations::table
        .filter(evaluations::plan_id.eq(plan_id))
        .select(diesel::dsl::max(evaluations::id))
        .first::<Option<i64>>(conn)?
        .ok_or_else(|| ApiError::Internal("evaluation vanished".into()))?;
    for item in items {
        diesel::insert_into(evaluation_items::table)
            .values((evaluation_items::evaluation_id.eq(id), item.clone()))
            .execute(conn)?;
    }
    Ok(id)
}

pub fn list(conn: &mut DbConnection, plan_id: i64, page: Page) -> Result<Listing<EvaluationRow>, ApiError> {
    let of_plan = || evaluations::table.filter(evaluations::plan_id.eq(plan_id)).into_boxed();
    Ok(load_page!(conn, of_plan(), EvaluationRow, sort_evaluations, page))
}

pub fn get(conn: &mut DbConnection, plan_id: i64, id: i64) -> Result<(EvaluationRow, Vec<ItemRow>), ApiError> {
    let evaluation = evaluations::table
        .filter(evaluations::plan_id.eq(plan_id))
        .filter(evaluations::id.eq(id))
        .select(EvaluationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("evaluation", id))?;
    let items = evaluation_items::table
        .filter(evaluation_items::evaluation_id.eq(id))
        .order(evaluation_items::id)
        .select(ItemRow::as_select())
        .load(conn)?;
    Ok((evaluation, items))
}
