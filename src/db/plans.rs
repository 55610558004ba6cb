//! Plans: the strategy documents, and the corrections made to their published text.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{plans, source_corrections};
use super::{find_row, load_page, DbConnection, Listing, Page};
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub document_title: String,
    pub municipality_code: String,
    pub municipality_name: String,
    pub prefecture: String,
    pub period_start_year: i32,
    pub period_end_year: i32,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = source_corrections)]
pub struct CorrectionRow {
    pub record: String,
    pub field: String,
    pub published: String,
    pub normalised: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct PlanFilter {
    pub code: Option<String>,
}

fn filtered(filter: &PlanFilter) -> plans::BoxedQuery<'static, super::Db> {
    let mut query = plans::table.into_boxed();
    if let Some(code) = &filter.code {
        query = query.filter(plans::code.eq(code.clone()));
    }
    query
}

pub fn list(
    conn: &mut DbConnection,
    filter: &PlanFilter,
    page: Page,
) -> Result<Listing<PlanRow>, ApiError> {
    Ok(load_page!(conn, filtered(filter), PlanRow, plans::id, page))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<(PlanRow, Vec<CorrectionRow>), ApiError> {
    let plan = find_row!(conn, plans, PlanRow, "plan", id);
    let corrections = source_corrections::table
        .filter(source_corrections::plan_id.eq(id))
        .order(source_corrections::id)
        .select(CorrectionRow::as_select())
        .load(conn)?;
    Ok((plan, corrections))
}
