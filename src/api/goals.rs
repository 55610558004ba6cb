//! `/goals`, `/measures`, `/initiatives`: the strategy's hierarchy.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::kpis::Kpi;
use super::{collection, utc, Collection, CommonParams, PageParams, QueryParams};
use crate::db::goals::{
    self as store, GoalRow, InitiativeFilter, InitiativeRow, MeasureFilter, MeasureRow,
};
use crate::db::{kpis as kpi_store, projects as project_store, Database};
use crate::error::{ApiError, ItemErrors, ListErrors};

/// A basic goal (基本目標).
#[derive(Debug, Serialize, ToSchema)]
pub struct Goal {
    #[schema(example = 1)]
    pub id: i64,
    /// The goal's number in the document.
    #[schema(example = "1")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 1)]
    pub number: i32,
    /// The category as published.
    #[schema(example = "転入促進")]
    pub category: String,
    #[schema(example = "地域の魅力発信・人材交流と都市機能の向上により、活気に満ちたまちをつくる")]
    pub title: String,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A measure (具体的な施策) under a goal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Measure {
    #[schema(example = 2)]
    pub id: i64,
    /// `goal-measure`.
    #[schema(example = "1-2")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 1)]
    pub goal_id: i64,
    #[schema(example = 2)]
    pub number: i32,
    #[schema(example = "機能的でにぎわいのあるまちづくりを進める")]
    pub title: String,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// An initiative (主な取組) under a measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Initiative {
    #[schema(example = 4)]
    pub id: i64,
    /// `goal-measure-initiative`; ① is 1.
    #[schema(example = "1-2-1")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 2)]
    pub measure_id: i64,
    #[schema(example = 1)]
    pub number: i32,
    #[schema(example = "都市機能の向上")]
    pub title: String,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A goal with its measures and their initiatives.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalDetail {
    #[serde(flatten)]
    pub goal: Goal,
    pub measures: Vec<MeasureDetail>,
}

/// A measure with its initiatives.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureDetail {
    #[serde(flatten)]
    pub measure: Measure,
    pub initiatives: Vec<Initiative>,
}

/// An initiative with its KPIs and the projects listed under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitiativeDetail {
    #[serde(flatten)]
    pub initiative: Initiative,
    pub kpis: Vec<Kpi>,
    /// The initiative's project table, in the document's order, each with the description given here.
    pub project_appearances: Vec<InitiativeProject>,
}

/// A project as listed in one initiative's table.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitiativeProject {
    #[schema(example = 1)]
    pub project_id: i64,
    #[schema(example = "P001")]
    pub project_code: String,
    #[schema(example = "国内交流推進事業")]
    pub name: String,
    /// Special account (特別会計), if any.
    #[schema(example = json!(null))]
    pub account: Option<String>,
    /// The description given at this place in the document.
    pub description: String,
}

impl From<GoalRow> for Goal {
    fn from(row: GoalRow) -> Self {
        Goal {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            number: row.number,
            category: row.category,
            title: row.title,
            updated_at: utc(row.updated_at),
        }
    }
}

impl From<MeasureRow> for Measure {
    fn from(row: MeasureRow) -> Self {
        Measure {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            goal_id: row.goal_id,
            number: row.number,
            title: row.title,
            updated_at: utc(row.updated_at),
        }
    }
}

impl From<InitiativeRow> for Initiative {
    fn from(row: InitiativeRow) -> Self {
        Initiative {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            measure_id: row.measure_id,
            number: row.number,
            title: row.title,
            updated_at: utc(row.updated_at),
        }
    }
}

impl From<project_store::InitiativeProjectRow> for InitiativeProject {
    fn from(row: project_store::InitiativeProjectRow) -> Self {
        InitiativeProject {
            project_id: row.project_id,
            project_code: row.project_code,
            name: row.name,
            account: row.account,
            description: row.description,
        }
    }
}

impl MeasureDetail {
    fn new(measure: MeasureRow, initiatives: &mut Vec<InitiativeRow>) -> Self {
        let (own, others) = std::mem::take(initiatives)
            .into_iter()
            .partition(|initiative| initiative.measure_id == measure.id);
        *initiatives = others;
        MeasureDetail {
            measure: measure.into(),
            initiatives: own.into_iter().map(Initiative::from).collect::<Vec<_>>(),
        }
    }
}

/// Filter of measures.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeasureParams {
    /// Only measures of this goal (its id).
    #[param(example = 1, minimum = 1)]
    pub goal: Option<i64>,
}

/// Filters of initiatives.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InitiativeParams {
    /// Only initiatives under this goal (its id).
    #[param(example = 1, minimum = 1)]
    pub goal: Option<i64>,
    /// Only initiatives of this measure (its id).
    #[param(example = 2, minimum = 1)]
    pub measure: Option<i64>,
}

/// List goals.
#[utoipa::path(
    tag = "goals",
    params(CommonParams, PageParams),
    responses((status = 200, description = "A page of goals", body = Collection<Goal>), ListErrors)
)]
#[get("/goals")]
pub async fn list_goals(
    db: web::Data<Database>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = params.common()?;
    let page = params.page()?;
    params.finish()?;
    let listing = db
        .run(move |conn| store::list_goals(conn, &filter, page))
        .await?;
    Ok(collection::<_, Goal>(&request, page, listing))
}

/// Get one goal with its measures and their initiatives.
#[utoipa::path(
    tag = "goals",
    params(("id" = i64, Path, description = "Goal id", example = 1)),
    responses((status = 200, description = "The goal and its tree", body = GoalDetail), ItemErrors)
)]
#[get("/goals/{id}")]
pub async fn get_goal(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<GoalDetail>, ApiError> {
    let id = id.into_inner();
    let (goal, measures, mut initiatives) = db.run(move |conn| store::goal_tree(conn, id)).await?;
    Ok(web::Json(GoalDetail {
        goal: goal.into(),
        measures: measures
            .into_iter()
            .map(|measure| MeasureDetail::new(measure, &mut initiatives))
            .collect(),
    }))
}

/// List measures.
#[utoipa::path(
    tag = "measures",
    params(MeasureParams, CommonParams, PageParams),
    responses((status = 200, description = "A page of measures", body = Collection<Measure>), ListErrors)
)]
#[get("/measures")]
pub async fn list_measures(
    db: web::Data<Database>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = MeasureFilter {
        common: params.common()?,
        goal: params.id("goal")?,
    };
    let page = params.page()?;
    params.finish()?;
    let listing = db
        .run(move |conn| store::list_measures(conn, &filter, page))
        .await?;
    Ok(collection::<_, Measure>(&request, page, listing))
}

/// Get one measure with its initiatives.
#[utoipa::path(
    tag = "measures",
    params(("id" = i64, Path, description = "Measure id", example = 1)),
    responses((status = 200, description = "The measure and its initiatives", body = MeasureDetail), ItemErrors)
)]
#[get("/measures/{id}")]
pub async fn get_measure(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<MeasureDetail>, ApiError> {
    let id = id.into_inner();
    let (measure, mut initiatives) = db.run(move |conn| store::measure_tree(conn, id)).await?;
    Ok(web::Json(MeasureDetail::new(measure, &mut initiatives)))
}

/// List initiatives.
#[utoipa::path(
    tag = "initiatives",
    params(InitiativeParams, CommonParams, PageParams),
    responses((status = 200, description = "A page of initiatives", body = Collection<Initiative>), ListErrors)
)]
#[get("/initiatives")]
pub async fn list_initiatives(
    db: web::Data<Database>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = InitiativeFilter {
        common: params.common()?,
        goal: params.id("goal")?,
        measure: params.id("measure")?,
    };
    let page = params.page()?;
    params.finish()?;
    let listing = db
        .run(move |conn| store::list_initiatives(conn, &filter, page))
        .await?;
    Ok(collection::<_, Initiative>(&request, page, listing))
}

/// Get one initiative with its KPIs and project appearances.
#[utoipa::path(
    tag = "initiatives",
    params(("id" = i64, Path, description = "Initiative id", example = 1)),
    responses((status = 200, description = "The initiative, its KPIs and its projects", body = InitiativeDetail), ItemErrors)
)]
#[get("/initiatives/{id}")]
pub async fn get_initiative(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<InitiativeDetail>, ApiError> {
    let id = id.into_inner();
    let (initiative, kpis, projects) = db
        .run(move |conn| {
            let initiative = store::get_initiative(conn, id)?;
            let kpis = kpi_store::of_initiative(conn, id)?;
            let projects = project_store::in_initiative(conn, id)?;
            Ok((initiative, kpis, projects))
        })
        .await?;
    Ok(web::Json(InitiativeDetail {
        initiative: initiative.into(),
        kpis: kpis.into_iter().map(Into::into).collect(),
        project_appearances: projects.into_iter().map(Into::into).collect(),
    }))
}
