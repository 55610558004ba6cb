//! KPIs (重要業績評価指標): rows, filters and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::goals::{initiative_ids_of_goal, CommonFilter};
use super::schema::{initiatives, kpis};
use super::{filter_common, find_row, load_page, Db, DbConnection, Listing, Page};
use crate::domain::text::{fold_for_search, like_contains};
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = kpis)]
pub struct KpiRow {
    pub id: i64,
    pub plan_id: i64,
    pub initiative_id: i64,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub cumulative: bool,
    pub direction: String,
    pub baseline_value: Option<String>,
    pub baseline_year: i32,
    pub baseline_year_type: String,
    pub target_value: Option<String>,
    pub target_year: i32,
    pub target_year_type: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default)]
pub struct KpiFilter {
    pub common: CommonFilter,
    pub goal: Option<i64>,
    pub measure: Option<i64>,
    pub initiative: Option<i64>,
    pub q: Option<String>,
}

fn filtered(filter: &KpiFilter) -> kpis::BoxedQuery<'static, Db> {
    let mut query = kpis::table.into_boxed();
    filter_common!(query, kpis, filter.common);
    if let Some(goal) = filter.goal {
        query = query.filter(kpis::initiative_id.eq_any(initiative_ids_of_goal!(goal)));
    }
    if let Some(measure) = filter.measure {
        query = query.filter(
            kpis::initiative_id.eq_any(
                initiatives::table
                    .select(initiatives::id)
                    .filter(initiatives::measure_id.eq(measure)),
            ),
        );
    }
    if let Some(initiative) = filter.initiative {
        query = query.filter(kpis::initiative_id.eq(initiative));
    }
    if let Some(q) = &filter.q {
        query = query.filter(
            kpis::search_text
                .like(like_contains(&fold_for_search(q)))
                .escape('\\'),
        );
    }
    query
}

pub fn list(
    conn: &mut DbConnection,
    filter: &KpiFilter,
    page: Page,
) -> Result<Listing<KpiRow>, ApiError> {
    Ok(load_page!(conn, filtered(filter), KpiRow, kpis::id, page))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<KpiRow, ApiError> {
    Ok(find_row!(conn, kpis, KpiRow, "kpi", id))
}

pub fn of_initiative(conn: &mut DbConnection, initiative: i64) -> Result<Vec<KpiRow>, ApiError> {
    Ok(kpis::table
        .filter(kpis::initiative_id.eq(initiative))
        .order(kpis::id)
        .select(KpiRow::as_select())
        .load(conn)?)
}
