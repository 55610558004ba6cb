//! `/goals`, `/measures`, `/initiatives`: the strategy's hierarchy.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::kpis::Kpi;
use super::records::{record_endpoints, Record};
use super::{list_response, utc, Collection, CommonParams, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::goals::{
    self as store, GoalForm, GoalRow, InitiativeFilter, InitiativeForm, InitiativeRow, MeasureFilter, MeasureForm,
    MeasureRow,
};
use crate::db::{kpis as kpi_store, projects as project_store, Database, DbConnection};
use crate::error::{ApiError, ListErrors};

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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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
            version: row.version,
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
            version: row.version,
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
            version: row.version,
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
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeasureParams {
    /// Only measures of this goal (its id).
    #[param(example = 1, inline)]
    pub goal: Option<crate::api::query::documented::Id>,
}

/// Filters of initiatives.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InitiativeParams {
    /// Only initiatives under this goal (its id).
    #[param(example = 1, inline)]
    pub goal: Option<crate::api::query::documented::Id>,
    /// Only initiatives of this measure (its id).
    #[param(example = 2, inline)]
    pub measure: Option<crate::api::query::documented::Id>,
}

/// List goals.
#[utoipa::path(
    operation_id = "listGoals",
    tag = "goals",
    params(CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of goals", content((Collection<Goal> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/goals")]
pub async fn list_goals(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = params.common()?;
    let output = params.output(&request)?;
    let page = params.page(store::GOAL_SORT)?;
    params.finish()?;
    list_response::<_, Goal, _>(&db, &request, page, output, move |conn, page| {
        store::list_goals(conn, &filter, page)
    })
    .await
}

/// List measures.
#[utoipa::path(
    operation_id = "listMeasures",
    tag = "measures",
    params(MeasureParams, CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of measures", content((Collection<Measure> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/measures")]
pub async fn list_measures(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = MeasureFilter {
        common: params.common()?,
        goal: params.id("goal")?,
    };
    let output = params.output(&request)?;
    let page = params.page(store::MEASURE_SORT)?;
    params.finish()?;
    list_response::<_, Measure, _>(&db, &request, page, output, move |conn, page| {
        store::list_measures(conn, &filter, page)
    })
    .await
}

/// List initiatives.
#[utoipa::path(
    operation_id = "listInitiatives",
    tag = "initiatives",
    params(InitiativeParams, CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of initiatives", content((Collection<Initiative> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/initiatives")]
pub async fn list_initiatives(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = InitiativeFilter {
        common: params.common()?,
        goal: params.id("goal")?,
        measure: params.id("measure")?,
    };
    let output = params.output(&request)?;
    let page = params.page(store::INITIATIVE_SORT)?;
    params.finish()?;
    list_response::<_, Initiative, _>(&db, &request, page, output, move |conn, page| {
        store::list_initiatives(conn, &filter, page)
    })
    .await
}

/// Goals are written by admins.
pub struct GoalRecord;

impl Record for GoalRecord {
    const RESOURCE: &'static str = "goal";
    const PATH: &'static str = "/api/v1/goals";
    const SCOPE: Scope = Scope::Admin;
    type View = GoalDetail;
    type Input = GoalForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<GoalDetail, ApiError> {
        let (goal, measures, mut initiatives) = store::goal_tree(conn, id)?;
        Ok(GoalDetail {
            goal: goal.into(),
            measures: measures
                .into_iter()
                .map(|measure| MeasureDetail::new(measure, &mut initiatives))
                .collect(),
        })
    }

    fn plan_of(view: &GoalDetail) -> Option<i64> {
        Some(view.goal.plan_id)
    }

    fn input_of(view: &GoalDetail) -> GoalForm {
        GoalForm {
            plan_id: view.goal.plan_id,
            code: view.goal.code.clone(),
            number: view.goal.number,
            category: view.goal.category.clone(),
            title: view.goal.title.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &GoalForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate_goal(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &GoalForm) -> Result<i64, ApiError> {
        store::insert_goal(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &GoalForm) -> Result<(), ApiError> {
        store::update_goal(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        store::goal_dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete_goal(conn, id)
    }
}

record_endpoints! {
    record: GoalRecord, name: "Goal", form: GoalForm, view: GoalDetail, tag: "goals", scope: "admin",
    collection: "/goals", item: "/goals/{id}",
    get: get_goal "Get one goal with its measures and their initiatives.",
    create: create_goal "Create a goal (admin).",
    update: update_goal "Correct a goal (admin), as a JSON merge patch under If-Match.",
    delete: delete_goal "Delete a goal without measures (admin), under If-Match.",
}

/// Measures are written by admins.
pub struct MeasureRecord;

impl Record for MeasureRecord {
    const RESOURCE: &'static str = "measure";
    const PATH: &'static str = "/api/v1/measures";
    const SCOPE: Scope = Scope::Admin;
    type View = MeasureDetail;
    type Input = MeasureForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<MeasureDetail, ApiError> {
        let (measure, mut initiatives) = store::measure_tree(conn, id)?;
        Ok(MeasureDetail::new(measure, &mut initiatives))
    }

    fn plan_of(view: &MeasureDetail) -> Option<i64> {
        Some(view.measure.plan_id)
    }

    fn input_of(view: &MeasureDetail) -> MeasureForm {
        MeasureForm {
            goal_id: view.measure.goal_id,
            code: view.measure.code.clone(),
            number: view.measure.number,
            title: view.measure.title.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &MeasureForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate_measure(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &MeasureForm) -> Result<i64, ApiError> {
        store::insert_measure(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &MeasureForm) -> Result<(), ApiError> {
        store::update_measure(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        store::measure_dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete_measure(conn, id)
    }
}

record_endpoints! {
    record: MeasureRecord, name: "Measure", form: MeasureForm, view: MeasureDetail, tag: "measures", scope: "admin",
    collection: "/measures", item: "/measures/{id}",
    get: get_measure "Get one measure with its initiatives.",
    create: create_measure "Create a measure (admin).",
    update: update_measure "Correct a measure (admin), as a JSON merge patch under If-Match.",
    delete: delete_measure "Delete a measure without initiatives (admin), under If-Match.",
}

/// Initiatives are written by admins.
pub struct InitiativeRecord;

impl Record for InitiativeRecord {
    const RESOURCE: &'static str = "initiative";
    const PATH: &'static str = "/api/v1/initiatives";
    const SCOPE: Scope = Scope::Admin;
    type View = InitiativeDetail;
    type Input = InitiativeForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<InitiativeDetail, ApiError> {
        let initiative = store::get_initiative(conn, id)?;
        let kpi_rows = kpi_store::of_initiative(conn, id)?;
        let kpis = crate::db::results::facts(conn, kpi_rows)?;
        let projects = project_store::in_initiative(conn, id)?;
        Ok(InitiativeDetail {
            initiative: initiative.into(),
            kpis: kpis.into_iter().map(Into::into).collect(),
            project_appearances: projects.into_iter().map(Into::into).collect(),
        })
    }

    fn plan_of(view: &InitiativeDetail) -> Option<i64> {
        Some(view.initiative.plan_id)
    }

    fn input_of(view: &InitiativeDetail) -> InitiativeForm {
        InitiativeForm {
            measure_id: view.initiative.measure_id,
            code: view.initiative.code.clone(),
            number: view.initiative.number,
            title: view.initiative.title.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &InitiativeForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate_initiative(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &InitiativeForm) -> Result<i64, ApiError> {
        store::insert_initiative(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &InitiativeForm) -> Result<(), ApiError> {
        store::update_initiative(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        store::initiative_dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete_initiative(conn, id)
    }
}

record_endpoints! {
    record: InitiativeRecord, name: "Initiative", form: InitiativeForm, view: InitiativeDetail, tag: "initiatives", scope: "admin",
    collection: "/initiatives", item: "/initiatives/{id}",
    get: get_initiative "Get one initiative with its KPIs and project appearances.",
    create: create_initiative "Create an initiative (admin).",
    update: update_initiative "Correct an initiative (admin), as a JSON merge patch under If-Match.",
    delete: delete_initiative "Delete an initiative without KPIs or projects (admin), under If-Match.",
}
