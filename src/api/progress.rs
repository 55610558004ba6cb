//! Roll-ups: how the KPIs of the plan, a goal, a measure, an initiative or a department stand.

use actix_web::{get, web, HttpRequest};
use serde::Serialize;
use utoipa::ToSchema;

use super::kpis::Kpi;
use super::QueryParams;
use crate::db::kpis::{self as kpi_store, KpiFilter};
use crate::db::results::{self, ResultView};
use crate::db::schema::{departments, goals, initiatives, measures};
use crate::db::{plan_of, Database, DbConnection};
use crate::domain::progress::Status;
use crate::error::{ApiError, ItemErrors, ListErrors};

/// How many KPIs are in each status.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StatusCounts {
    pub achieved: usize,
    pub on_track: usize,
    pub behind: usize,
    pub no_data: usize,
    pub not_measurable: usize,
}

/// The KPIs of a part of the strategy, counted by status, with their mean achievement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rollup {
    /// How many KPIs the roll-up covers.
    #[schema(example = 45)]
    pub kpis: usize,
    pub counts: StatusCounts,
    /// Mean achievement of the KPIs that have a measured latest result; null when none has.
    #[schema(example = 0.52)]
    pub mean_achievement: Option<f64>,
    /// The KPIs, each with its progress.
    pub items: Vec<Kpi>,
}

/// Counts statuses and averages the achievements there are (rounded to 4 places).
pub fn tally(progress: impl Iterator<Item = (Status, Option<f64>)>) -> (StatusCounts, Option<f64>) {
    let mut counts = StatusCounts::default();
    let mut achievements = Vec::new();
    for (status, achievement) in progress {
        match status {
            Status::Achieved => counts.achieved += 1,
            Status::OnTrack => counts.on_track += 1,
            Status::Behind => counts.behind += 1,
            Status::NoData => counts.no_data += 1,
            Status::NotMeasurable => counts.not_measurable += 1,
        }
        achievements.extend(achievement);
    }
    let mean = (!achievements.is_empty())
        .then(|| achievements.iter().sum::<f64>() / achievements.len() as f64)
        .map(|mean| (mean * 10_000.0).round() / 10_000.0);
    (counts, mean)
}

/// The roll-up of the KPIs a filter matches, from the results of a view.
pub fn rollup(conn: &mut DbConnection, filter: &KpiFilter, view: ResultView) -> Result<Rollup, ApiError> {
    let rows = kpi_store::all(conn, filter)?;
    let items: Vec<Kpi> = results::facts_under(conn, rows, view)?
        .into_iter()
        .map(Kpi::from)
        .collect();
    let (counts, mean) = tally(items.iter().map(|kpi| (kpi.progress.status, kpi.progress.achievement)));
    Ok(Rollup {
        kpis: items.len(),
        counts,
        mean_achievement: mean,
        items,
    })
}

/// The plan a roll-up of the whole strategy is limited to.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanFilter {
    /// Only this plan (its id).
    #[param(example = 1, inline)]
    pub plan: Option<crate::api::query::documented::Id>,
}

/// The moment a roll-up looks back to.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// Answer from the results as they were recorded then (from the audit history), against the
    /// targets of then (later revisions undone): a date (the end of that day in Japan, UTC+9) or an
    /// RFC 3339 time. Default: now.
    #[param(example = "2026-06-30", inline)]
    pub as_of: Option<crate::api::query::documented::Moment>,
}

fn view_of(params: &mut QueryParams) -> Result<ResultView, ApiError> {
    Ok(ResultView {
        as_of: params.moment("as_of")?,
        up_to_year: None,
    })
}

/// Progress of the whole strategy (or of one plan with `?plan=`).
#[utoipa::path(
    operation_id = "getPlanProgress",
    tag = "progress",
    params(PlanFilter, AsOf),
    responses((status = 200, description = "The roll-up", body = Rollup), ListErrors)
)]
#[get("/progress")]
pub async fn plan(db: web::Data<Database>, request: HttpRequest) -> Result<web::Json<Rollup>, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let plan = params.id("plan")?;
    let view = view_of(&mut params)?;
    params.finish()?;
    let filter = KpiFilter {
        common: crate::db::goals::CommonFilter { plan, code: None },
        ..Default::default()
    };
    Ok(web::Json(db.run(move |conn| rollup(conn, &filter, view)).await?))
}

/// Declares the roll-up of one kind of record: 404 for an unknown id, otherwise its KPIs.
macro_rules! scoped_rollup {
    ($name:ident, $operation_id:literal, $path:tt, $table:ident, $resource:literal, $field:ident, $doc:tt) => {
        #[doc = $doc]
        #[utoipa::path(
                            operation_id = $operation_id,
                            tag = "progress",
                            params(("id" = i64, Path, description = "Record id", example = 1, minimum = 1), AsOf),
                            responses((status = 200, description = "The roll-up", body = Rollup), ItemErrors)
                        )]
        #[get($path)]
        pub async fn $name(
            db: web::Data<Database>,
            request: HttpRequest,
            id: web::Path<i64>,
        ) -> Result<web::Json<Rollup>, ApiError> {
            let mut params = QueryParams::parse(request.query_string())?;
            let view = view_of(&mut params)?;
            params.finish()?;
            let id = id.into_inner();
            let filter = KpiFilter {
                $field: Some(id),
                ..Default::default()
            };
            let rollup = db
                .run(move |conn| {
                    plan_of!(conn, $table, id).ok_or_else(|| ApiError::not_found($resource, id))?;
                    rollup(conn, &filter, view)
                })
                .await?;
            Ok(web::Json(rollup))
        }
    };
}

scoped_rollup!(
    goal,
    "getGoalProgress",
    "/goals/{id}/progress",
    goals,
    "goal",
    goal,
    "Progress of a goal's KPIs."
);
scoped_rollup!(
    measure,
    "getMeasureProgress",
    "/measures/{id}/progress",
    measures,
    "measure",
    measure,
    "Progress of a measure's KPIs."
);
scoped_rollup!(
    initiative,
    "getInitiativeProgress",
    "/initiatives/{id}/progress",
    initiatives,
    "initiative",
    initiative,
    "Progress of an initiative's KPIs."
);
scoped_rollup!(
    department,
    "getDepartmentProgress",
    "/departments/{id}/progress",
    departments,
    "department",
    department,
    "Progress of the KPIs of the initiatives in which a department has a project."
);
