//! KPIs (重要業績評価指標): rows, filters and queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::goals::check_place;
use super::goals::{initiative_ids_of_goal, CommonFilter};
use super::schema::{divisions, initiatives, kpi_search_grams, kpis, project_appearances, project_divisions};
use super::{filter_common, find_row, id_by_code, load_page, plan_of, Db, DbConnection, Listing, Page};
use crate::domain::kpi::{direction, Direction, YearType};
use crate::domain::progress::Status;
use crate::domain::text::{bigrams, fold_for_search, like_contains, searchable};
use crate::domain::validate::{Checks, MAX_CODE, MAX_DESCRIPTION, MAX_NAME};
use crate::error::ApiError;

super::sortable!(
    KPI_SORT,
    sort_kpis,
    kpis,
    [
        id,
        code,
        name,
        unit,
        cumulative,
        direction,
        initiative_id,
        baseline_year,
        target_year,
        updated_at
    ]
);

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
    pub source: Option<String>,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default)]
pub struct KpiFilter {
    pub common: CommonFilter,
    pub goal: Option<i64>,
    pub measure: Option<i64>,
    pub initiative: Option<i64>,
    /// KPIs of initiatives in which the department has a project.
    pub department: Option<i64>,
    pub unit: Option<String>,
    pub cumulative: Option<bool>,
    pub direction: Option<Direction>,
    pub status: Option<Status>,
    pub q: Option<String>,
}

/// How many of a query's bigrams are looked up in the index (the rest only checked by LIKE).
const MAX_QUERY_GRAMS: usize = 6;

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
    if let Some(unit) = &filter.unit {
        query = query.filter(kpis::unit.eq(unit.clone()));
    }
    if let Some(cumulative) = filter.cumulative {
        query = query.filter(kpis::cumulative.eq(cumulative));
    }
    if let Some(direction) = filter.direction {
        query = query.filter(kpis::direction.eq(direction.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(kpis::progress_status.eq(status.as_str()));
    }
    if let Some(department) = filter.department {
        query = query.filter(
            kpis::initiative_id.eq_any(
                project_appearances::table
                    .select(project_appearances::initiative_id)
                    .filter(
                        project_appearances::project_id.eq_any(
                            project_divisions::table.select(project_divisions::project_id).filter(
                                project_divisions::division_id.eq_any(
                                    divisions::table
                                        .select(divisions::id)
                                        .filter(divisions::department_id.eq(department)),
                                ),
                            ),
                        ),
                    ),
            ),
        );
    }
    if let Some(q) = &filter.q {
        let folded = fold_for_search(q);
        let grams = bigrams(&folded);
        // A query of two characters is its own bigram: the index alone decides, no LIKE needed.
        let decided_by_index = grams.len() == 1 && folded.chars().count() == 2;
        // Otherwise the bigram index narrows the candidates and LIKE decides. Most words need only a few grams.
        for gram in grams.into_iter().take(MAX_QUERY_GRAMS) {
            query = query.filter(
                kpis::id.eq_any(
                    kpi_search_grams::table
                        .filter(kpi_search_grams::gram.eq(gram))
                        .select(kpi_search_grams::kpi_id),
                ),
            );
        }
        if !decided_by_index {
            query = query.filter(kpis::search_text.like(like_contains(&folded)).escape('\\'));
        }
    }
    query
}

pub fn list(conn: &mut DbConnection, filter: &KpiFilter, page: Page) -> Result<Listing<KpiRow>, ApiError> {
    Ok(load_page!(conn, filtered(filter), KpiRow, sort_kpis, page))
}

/// Every KPI the filter matches, for roll-ups.
pub fn all(conn: &mut DbConnection, filter: &KpiFilter) -> Result<Vec<KpiRow>, ApiError> {
    Ok(filtered(filter)
        .order(kpis::id)
        .select(KpiRow::as_select())
        .load(conn)?)
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

/// Editable fields of a KPI. `direction` is derived from baseline and target; it may only be
/// given where it cannot be derived (a baseline of "—").
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiForm {
    /// The initiative it measures (within the same plan).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub initiative_id: i64,
    /// Unique within the plan.
    #[schema(example = "1-1-1-3", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = "国内友好都市との交流活動件数", min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "件", min_length = 1, max_length = 50)]
    pub unit: String,
    /// A running total (累計).
    #[serde(default)]
    pub cumulative: bool,
    pub baseline: MeasurementForm,
    pub target: MeasurementForm,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Where the KPI's figures come from: a survey, a statistic, a URL.
    #[serde(default)]
    #[schema(example = "市民意識調査", min_length = 1, max_length = 2000)]
    pub source: Option<String>,
}

/// A baseline or target as published.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurementForm {
    /// The exact decimal, as a number or a string ("99.10"), or null where none was measured ("—").
    #[serde(default, deserialize_with = "crate::domain::input::decimal::deserialize")]
    #[schema(schema_with = crate::domain::input::decimal::schema)]
    pub value: Option<String>,
    #[schema(example = 2026, minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub year: i32,
    pub year_type: YearType,
}

pub fn validate(conn: &mut DbConnection, form: &KpiForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.text("name", &form.name, MAX_NAME);
    checks.text("unit", &form.unit, MAX_CODE);
    for (field, measurement) in [("baseline", &form.baseline), ("target", &form.target)] {
        if let Some(value) = &measurement.value {
            checks.decimal(&format!("{field}.value"), value);
        }
        checks.year(&format!("{field}.year"), measurement.year);
    }
    if let Some(source) = &form.source {
        checks.text("source", source, MAX_DESCRIPTION);
    }
    if form.target.value.is_none() {
        checks.refuse("target.value", "a KPI needs a target value");
    }
    if form.target.year < form.baseline.year {
        checks.refuse("target.year", "must not be before baseline.year");
    }
    if let (Some(given), Some(_)) = (form.direction, &form.baseline.value) {
        let derived = stored_direction(form, None);
        if given != derived {
            checks.refuse(
                "direction",
                format!("is derived from baseline and target: `{}` here", derived.as_str()),
            );
        }
    }
    check_place!(
        checks,
        conn,
        kpis,
        "KPI",
        id,
        &form.code,
        "initiative_id",
        "initiative",
        plan_of!(conn, initiatives, form.initiative_id),
        form.initiative_id
    );
    checks.finish()
}

/// Derived from baseline and target; where there is no baseline, as given, else as it was
/// (`increase` for a new KPI).
fn stored_direction(form: &KpiForm, current: Option<Direction>) -> Direction {
    match (&form.baseline.value, form.direction) {
        (Some(_), _) => direction(form.baseline.value.as_deref(), form.target.value.as_deref()),
        (None, Some(given)) => given,
        (None, None) => current.unwrap_or(Direction::Increase),
    }
}

/// The columns a KPI form sets, alike on insert and update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = kpis, treat_none_as_null = true)]
struct KpiChanges<'a> {
    initiative_id: i64,
    code: &'a str,
    name: &'a str,
    unit: &'a str,
    cumulative: bool,
    direction: &'static str,
    baseline_value: Option<&'a str>,
    baseline_year: i32,
    baseline_year_type: &'static str,
    target_value: Option<&'a str>,
    target_year: i32,
    target_year_type: &'static str,
    search_text: String,
    source: Option<&'a str>,
    updated_at: NaiveDateTime,
}

impl<'a> KpiChanges<'a> {
    fn new(form: &'a KpiForm, direction: Direction) -> Self {
        KpiChanges {
            initiative_id: form.initiative_id,
            code: &form.code,
            name: &form.name,
            unit: &form.unit,
            cumulative: form.cumulative,
            direction: direction.as_str(),
            baseline_value: form.baseline.value.as_deref(),
            baseline_year: form.baseline.year,
            baseline_year_type: form.baseline.year_type.as_str(),
            target_value: form.target.value.as_deref(),
            target_year: form.target.year,
            target_year_type: form.target.year_type.as_str(),
            search_text: searchable(&form.name),
            source: form.source.as_deref(),
            updated_at: super::now(),
        }
    }
}

pub fn insert(conn: &mut DbConnection, form: &KpiForm) -> Result<i64, ApiError> {
    let plan = plan_of!(conn, initiatives, form.initiative_id)
        .ok_or_else(|| ApiError::not_found("initiative", form.initiative_id))?;
    let changes = KpiChanges::new(form, stored_direction(form, None));
    let created_at = changes.updated_at;
    let search_text = changes.search_text.clone();
    diesel::insert_into(kpis::table)
        .values((changes, kpis::plan_id.eq(plan), kpis::created_at.eq(created_at)))
        .execute(conn)?;
    let id = id_by_code!(conn, kpis, plan, &form.code);
    index_search_text(conn, id, &search_text)?;
    Ok(id)
}

pub fn update(conn: &mut DbConnection, id: i64, form: &KpiForm) -> Result<(), ApiError> {
    let current = get(conn, id)?;
    let changes = KpiChanges::new(form, stored_direction(form, current.direction.parse().ok()));
    // The search text derives from the name alone: only a new name needs the index rewritten.
    let search_text = (form.name != current.name).then(|| changes.search_text.clone());
    diesel::update(kpis::table.find(id))
        .set((changes, kpis::version.eq(kpis::version + 1)))
        .execute(conn)?;
    if let Some(search_text) = search_text {
        index_search_text(conn, id, &search_text)?;
    }
    Ok(())
}

/// Replaces a KPI's entries in the bigram index.
pub(crate) fn index_search_text(conn: &mut DbConnection, id: i64, search_text: &str) -> Result<(), ApiError> {
    diesel::delete(kpi_search_grams::table.filter(kpi_search_grams::kpi_id.eq(id))).execute(conn)?;
    // One row per statement: diesel's multi-backend connection has no batch insert.
    for gram in bigrams(search_text) {
        diesel::insert_into(kpi_search_grams::table)
            .values((kpi_search_grams::gram.eq(gram), kpi_search_grams::kpi_id.eq(id)))
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(kpi_search_grams::table.filter(kpi_search_grams::kpi_id.eq(id))).execute(conn)?;
    diesel::delete(kpis::table.find(id)).execute(conn)?;
    Ok(())
}
