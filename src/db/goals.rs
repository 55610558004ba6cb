//! The strategy's hierarchy: goals (基本目標), measures (具体的な施策) and initiatives (主な取組).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{goals, initiatives, measures};
use super::{filter_common, find_row, load_page, Db, DbConnection, Listing, Page};
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = goals)]
pub struct GoalRow {
    pub id: i64,
    pub plan_id: i64,
    pub code: String,
    pub number: i32,
    pub category: String,
    pub title: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = measures)]
pub struct MeasureRow {
    pub id: i64,
    pub plan_id: i64,
    pub goal_id: i64,
    pub code: String,
    pub number: i32,
    pub title: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = initiatives)]
pub struct InitiativeRow {
    pub id: i64,
    pub plan_id: i64,
    pub measure_id: i64,
    pub code: String,
    pub number: i32,
    pub title: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

/// Filters every collection has.
#[derive(Debug, Default, Clone)]
pub struct CommonFilter {
    pub plan: Option<i64>,
    pub code: Option<String>,
}

#[derive(Debug, Default)]
pub struct MeasureFilter {
    pub common: CommonFilter,
    pub goal: Option<i64>,
}

#[derive(Debug, Default)]
pub struct InitiativeFilter {
    pub common: CommonFilter,
    pub goal: Option<i64>,
    pub measure: Option<i64>,
}

fn filtered_goals(filter: &CommonFilter) -> goals::BoxedQuery<'static, Db> {
    let mut query = goals::table.into_boxed();
    filter_common!(query, goals, filter);
    query
}

fn filtered_measures(filter: &MeasureFilter) -> measures::BoxedQuery<'static, Db> {
    let mut query = measures::table.into_boxed();
    filter_common!(query, measures, filter.common);
    if let Some(goal) = filter.goal {
        query = query.filter(measures::goal_id.eq(goal));
    }
    query
}

/// Ids of the initiatives under a goal, as a subquery (unboxed: boxed subqueries cannot be
/// nested in boxed queries of a MultiConnection backend).
macro_rules! initiative_ids_of_goal {
    ($goal:expr) => {{
        use $crate::db::schema::{initiatives, measures};
        initiatives::table.select(initiatives::id).filter(
            initiatives::measure_id.eq_any(
                measures::table
                    .select(measures::id)
                    .filter(measures::goal_id.eq($goal)),
            ),
        )
    }};
}
pub(crate) use initiative_ids_of_goal;

fn filtered_initiatives(filter: &InitiativeFilter) -> initiatives::BoxedQuery<'static, Db> {
    let mut query = initiatives::table.into_boxed();
    filter_common!(query, initiatives, filter.common);
    if let Some(goal) = filter.goal {
        query = query.filter(
            initiatives::measure_id.eq_any(
                measures::table
                    .select(measures::id)
                    .filter(measures::goal_id.eq(goal)),
            ),
        );
    }
    if let Some(measure) = filter.measure {
        query = query.filter(initiatives::measure_id.eq(measure));
    }
    query
}

pub fn list_goals(
    conn: &mut DbConnection,
    filter: &CommonFilter,
    page: Page,
) -> Result<Listing<GoalRow>, ApiError> {
    Ok(load_page!(
        conn,
        filtered_goals(filter),
        GoalRow,
        goals::id,
        page
    ))
}

pub fn list_measures(
    conn: &mut DbConnection,
    filter: &MeasureFilter,
    page: Page,
) -> Result<Listing<MeasureRow>, ApiError> {
    Ok(load_page!(
        conn,
        filtered_measures(filter),
        MeasureRow,
        measures::id,
        page
    ))
}

pub fn list_initiatives(
    conn: &mut DbConnection,
    filter: &InitiativeFilter,
    page: Page,
) -> Result<Listing<InitiativeRow>, ApiError> {
    Ok(load_page!(
        conn,
        filtered_initiatives(filter),
        InitiativeRow,
        initiatives::id,
        page
    ))
}

/// A goal with its measures and their initiatives: three queries, whatever the size of the tree.
pub fn goal_tree(
    conn: &mut DbConnection,
    id: i64,
) -> Result<(GoalRow, Vec<MeasureRow>, Vec<InitiativeRow>), ApiError> {
    let goal = find_row!(conn, goals, GoalRow, "goal", id);
    let measures = measures::table
        .filter(measures::goal_id.eq(id))
        .order(measures::id)
        .select(MeasureRow::as_select())
        .load(conn)?;
    let initiatives = initiatives_of(conn, measures.iter().map(|measure| measure.id).collect())?;
    Ok((goal, measures, initiatives))
}

/// A measure with its initiatives.
pub fn measure_tree(
    conn: &mut DbConnection,
    id: i64,
) -> Result<(MeasureRow, Vec<InitiativeRow>), ApiError> {
    let measure = find_row!(conn, measures, MeasureRow, "measure", id);
    let initiatives = initiatives_of(conn, vec![id])?;
    Ok((measure, initiatives))
}

fn initiatives_of(
    conn: &mut DbConnection,
    measure_ids: Vec<i64>,
) -> Result<Vec<InitiativeRow>, ApiError> {
    Ok(initiatives::table
        .filter(initiatives::measure_id.eq_any(measure_ids))
        .order(initiatives::id)
        .select(InitiativeRow::as_select())
        .load(conn)?)
}

pub fn get_initiative(conn: &mut DbConnection, id: i64) -> Result<InitiativeRow, ApiError> {
    Ok(find_row!(
        conn,
        initiatives,
        InitiativeRow,
        "initiative",
        id
    ))
}
