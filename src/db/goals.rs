//! The strategy's hierarchy: goals (基本目標), measures (具体的な施策) and initiatives (主な取組).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{goals, initiatives, kpis, measures, project_appearances};
use super::{
    count_of, dependents, filter_common, find_row, id_by_code, load_page, plan_of, Db, DbConnection, Listing, Page,
};
use crate::domain::validate::{Checks, MAX_CODE, MAX_NAME};
use crate::error::ApiError;

super::sortable!(
    GOAL_SORT,
    sort_goals,
    goals,
    [id, code, number, category, title, updated_at]
);
super::sortable!(
    MEASURE_SORT,
    sort_measures,
    measures,
    [id, code, number, title, goal_id, updated_at]
);
super::sortable!(
    INITIATIVE_SORT,
    sort_initiatives,
    initiatives,
    [id, code, number, title, measure_id, updated_at]
);

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
            initiatives::measure_id.eq_any(measures::table.select(measures::id).filter(measures::goal_id.eq($goal))),
        )
    }};
}
pub(crate) use initiative_ids_of_goal;

fn filtered_initiatives(filter: &InitiativeFilter) -> initiatives::BoxedQuery<'static, Db> {
    let mut query = initiatives::table.into_boxed();
    filter_common!(query, initiatives, filter.common);
    if let Some(goal) = filter.goal {
        query = query.filter(
            initiatives::measure_id.eq_any(measures::table.select(measures::id).filter(measures::goal_id.eq(goal))),
        );
    }
    if let Some(measure) = filter.measure {
        query = query.filter(initiatives::measure_id.eq(measure));
    }
    query
}

pub fn list_goals(conn: &mut DbConnection, filter: &CommonFilter, page: Page) -> Result<Listing<GoalRow>, ApiError> {
    Ok(load_page!(conn, filtered_goals(filter), GoalRow, sort_goals, page))
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
        sort_measures,
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
        sort_initiatives,
        page
    ))
}

/// A goal with its measures and their initiatives: three queries, whatever the size of the tree.
pub fn goal_tree(conn: &mut DbConnection, id: i64) -> Result<(GoalRow, Vec<MeasureRow>, Vec<InitiativeRow>), ApiError> {
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
pub fn measure_tree(conn: &mut DbConnection, id: i64) -> Result<(MeasureRow, Vec<InitiativeRow>), ApiError> {
    let measure = find_row!(conn, measures, MeasureRow, "measure", id);
    let initiatives = initiatives_of(conn, vec![id])?;
    Ok((measure, initiatives))
}

fn initiatives_of(conn: &mut DbConnection, measure_ids: Vec<i64>) -> Result<Vec<InitiativeRow>, ApiError> {
    Ok(initiatives::table
        .filter(initiatives::measure_id.eq_any(measure_ids))
        .order(initiatives::id)
        .select(InitiativeRow::as_select())
        .load(conn)?)
}

pub fn get_initiative(conn: &mut DbConnection, id: i64) -> Result<InitiativeRow, ApiError> {
    Ok(find_row!(conn, initiatives, InitiativeRow, "initiative", id))
}

/// Editable fields of a goal.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalForm {
    /// The plan the goal belongs to (fixed once created).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub plan_id: i64,
    /// Unique within the plan.
    #[schema(example = "5", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = 5, minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(example = "転入促進", min_length = 1, max_length = 200)]
    pub category: String,
    #[schema(
        example = "地域の魅力発信・人材交流と都市機能の向上により、活気に満ちたまちをつくる",
        min_length = 1,
        max_length = 200
    )]
    pub title: String,
}

/// Editable fields of a measure.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureForm {
    /// The goal it serves (within the same plan).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub goal_id: i64,
    #[schema(example = "1-4", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = 4, minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(
        example = "関係人口を創出し、あつぎの魅力を全国に発信する",
        min_length = 1,
        max_length = 200
    )]
    pub title: String,
}

/// Editable fields of an initiative.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitiativeForm {
    /// The measure it belongs to (within the same plan).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub measure_id: i64,
    #[schema(example = "1-1-4", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = 4, minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(example = "都市間交流の促進", min_length = 1, max_length = 200)]
    pub title: String,
}

/// The plan a parent record is in, or a field error naming the missing parent.
pub fn parent_plan(checks: &mut Checks, field: &str, resource: &str, plan: Option<i64>, id: i64) -> Option<i64> {
    if plan.is_none() {
        checks.refuse(field, format!("{resource} {id} does not exist"));
    }
    plan
}

/// The rules of a record's place in a plan: its parent exists, an update leaves it in its plan,
/// and its code is unique there.
macro_rules! check_place {
    ($checks:ident, $conn:ident, $table:ident, $resource:literal, $id:expr, $code:expr,
     $parent_field:literal, $parent_resource:literal, $parent_plan:expr, $parent_id:expr) => {{
        let plan =
            $crate::db::goals::parent_plan(&mut $checks, $parent_field, $parent_resource, $parent_plan, $parent_id);
        if let Some(id) = $id {
            $crate::db::goals::same_plan(
                &mut $checks,
                $parent_field,
                $crate::db::plan_of!($conn, $table, id),
                plan,
            );
        }
        if let Some(plan) = plan {
            if $crate::db::code_taken!($conn, $table, plan, code, $code, $id) {
                $checks.refuse(
                    "code",
                    concat!("is already used by another ", $resource, " of this plan"),
                );
            }
        }
    }};
}
pub(crate) use check_place;

/// On update, a record stays in its plan: moving it would strand its children in the old one.
pub fn same_plan(checks: &mut Checks, field: &str, current: Option<i64>, new: Option<i64>) {
    if let (Some(current), Some(new)) = (current, new) {
        if current != new {
            checks.refuse(
                field,
                "must be in the record's own plan; records cannot move between plans",
            );
        }
    }
}

pub fn validate_goal(conn: &mut DbConnection, form: &GoalForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.positive("number", form.number);
    checks.text("category", &form.category, MAX_NAME);
    checks.text("title", &form.title, MAX_NAME);
    let exists = super::plans::exists(conn, form.plan_id)?;
    check_place!(
        checks,
        conn,
        goals,
        "goal",
        id,
        &form.code,
        "plan_id",
        "plan",
        exists.then_some(form.plan_id),
        form.plan_id
    );
    checks.finish()
}

pub fn insert_goal(conn: &mut DbConnection, form: &GoalForm) -> Result<i64, ApiError> {
    let now = super::now();
    diesel::insert_into(goals::table)
        .values((
            goals::plan_id.eq(form.plan_id),
            goals::code.eq(&form.code),
            goals::number.eq(form.number),
            goals::category.eq(&form.category),
            goals::title.eq(&form.title),
            goals::created_at.eq(now),
            goals::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id_by_code!(conn, goals, form.plan_id, &form.code))
}

pub fn update_goal(conn: &mut DbConnection, id: i64, form: &GoalForm) -> Result<(), ApiError> {
    diesel::update(goals::table.find(id))
        .set((
            goals::code.eq(&form.code),
            goals::number.eq(form.number),
            goals::category.eq(&form.category),
            goals::title.eq(&form.title),
            goals::version.eq(goals::version + 1),
            goals::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn goal_dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    Ok(dependents(&[(count_of!(conn, measures, goal_id, id), "measures")]))
}

pub fn delete_goal(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(goals::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn validate_measure(conn: &mut DbConnection, form: &MeasureForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.positive("number", form.number);
    checks.text("title", &form.title, MAX_NAME);
    check_place!(
        checks,
        conn,
        measures,
        "measure",
        id,
        &form.code,
        "goal_id",
        "goal",
        plan_of!(conn, goals, form.goal_id),
        form.goal_id
    );
    checks.finish()
}

pub fn insert_measure(conn: &mut DbConnection, form: &MeasureForm) -> Result<i64, ApiError> {
    let now = super::now();
    let plan = plan_of!(conn, goals, form.goal_id).ok_or_else(|| ApiError::not_found("goal", form.goal_id))?;
    diesel::insert_into(measures::table)
        .values((
            measures::plan_id.eq(plan),
            measures::goal_id.eq(form.goal_id),
            measures::code.eq(&form.code),
            measures::number.eq(form.number),
            measures::title.eq(&form.title),
            measures::created_at.eq(now),
            measures::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id_by_code!(conn, measures, plan, &form.code))
}

pub fn update_measure(conn: &mut DbConnection, id: i64, form: &MeasureForm) -> Result<(), ApiError> {
    diesel::update(measures::table.find(id))
        .set((
            measures::goal_id.eq(form.goal_id),
            measures::code.eq(&form.code),
            measures::number.eq(form.number),
            measures::title.eq(&form.title),
            measures::version.eq(measures::version + 1),
            measures::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn measure_dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    Ok(dependents(&[(
        count_of!(conn, initiatives, measure_id, id),
        "initiatives",
    )]))
}

pub fn delete_measure(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(measures::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn validate_initiative(conn: &mut DbConnection, form: &InitiativeForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.positive("number", form.number);
    checks.text("title", &form.title, MAX_NAME);
    check_place!(
        checks,
        conn,
        initiatives,
        "initiative",
        id,
        &form.code,
        "measure_id",
        "measure",
        plan_of!(conn, measures, form.measure_id),
        form.measure_id
    );
    checks.finish()
}

pub fn insert_initiative(conn: &mut DbConnection, form: &InitiativeForm) -> Result<i64, ApiError> {
    let now = super::now();
    let plan =
        plan_of!(conn, measures, form.measure_id).ok_or_else(|| ApiError::not_found("measure", form.measure_id))?;
    diesel::insert_into(initiatives::table)
        .values((
            initiatives::plan_id.eq(plan),
            initiatives::measure_id.eq(form.measure_id),
            initiatives::code.eq(&form.code),
            initiatives::number.eq(form.number),
            initiatives::title.eq(&form.title),
            initiatives::created_at.eq(now),
            initiatives::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id_by_code!(conn, initiatives, plan, &form.code))
}

pub fn update_initiative(conn: &mut DbConnection, id: i64, form: &InitiativeForm) -> Result<(), ApiError> {
    diesel::update(initiatives::table.find(id))
        .set((
            initiatives::measure_id.eq(form.measure_id),
            initiatives::code.eq(&form.code),
            initiatives::number.eq(form.number),
            initiatives::title.eq(&form.title),
            initiatives::version.eq(initiatives::version + 1),
            initiatives::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn initiative_dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    Ok(dependents(&[
        (count_of!(conn, kpis, initiative_id, id), "KPIs"),
        (
            count_of!(conn, project_appearances, initiative_id, id),
            "project appearances",
        ),
    ]))
}

pub fn delete_initiative(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(initiatives::table.find(id)).execute(conn)?;
    Ok(())
}
