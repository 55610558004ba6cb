//! `/projects`: the projects (事業) of the plan, where they appear and who runs them.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::departments::DepartmentRef;
use super::{collection, utc, Collection, CommonParams, PageParams, QueryParams};
use crate::db::projects::{
    self as store, AppearanceRow, ProjectFilter, ProjectRecord, ResponsibleDivisionRow,
};
use crate::db::Database;
use crate::error::{ApiError, ItemErrors, ListErrors};

/// A project (事業): one record per project name in the plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct Project {
    #[schema(example = 1)]
    pub id: i64,
    /// `P` and the order of first appearance in the document.
    #[schema(example = "P001")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    /// The name as published, without the special-account note.
    #[schema(example = "国内交流推進事業")]
    pub name: String,
    /// The special account (the 【…会計】 note), if any.
    #[schema(example = json!(null))]
    pub account: Option<String>,
    /// Responsible divisions, in the order published.
    pub divisions: Vec<ResponsibleDivision>,
    /// Every place the project is listed, each with the description given there.
    pub appearances: Vec<ProjectAppearance>,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A division responsible for a project.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponsibleDivision {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "D01-01")]
    pub code: String,
    #[schema(example = "企画政策課")]
    pub name: String,
    pub department: DepartmentRef,
}

/// One listing of the project under an initiative.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectAppearance {
    #[schema(example = 1)]
    pub initiative_id: i64,
    #[schema(example = "1-1-1")]
    pub initiative_code: String,
    /// The description given at this place; paragraphs are separated by "\n".
    #[schema(
        example = "国内友好都市との訪問団の受入れ及び派遣を行うとともに、国内友好都市との交流事業を行う市民団体に補助金を交付し、民間交流の活性化を図ります。"
    )]
    pub description: String,
}

impl From<ResponsibleDivisionRow> for ResponsibleDivision {
    fn from(row: ResponsibleDivisionRow) -> Self {
        ResponsibleDivision {
            id: row.division_id,
            code: row.division_code,
            name: row.division_name,
            department: DepartmentRef {
                id: row.department_id,
                code: row.department_code,
                name: row.department_name,
            },
        }
    }
}

impl From<AppearanceRow> for ProjectAppearance {
    fn from(row: AppearanceRow) -> Self {
        ProjectAppearance {
            initiative_id: row.initiative_id,
            initiative_code: row.initiative_code,
            description: row.description,
        }
    }
}

impl From<ProjectRecord> for Project {
    fn from(record: ProjectRecord) -> Self {
        let row = record.project;
        Project {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            name: row.name,
            account: row.account,
            divisions: record.divisions.into_iter().map(Into::into).collect(),
            appearances: record.appearances.into_iter().map(Into::into).collect(),
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filters of projects.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectParams {
    /// Only projects listed under this goal (its id).
    #[param(example = 1, minimum = 1)]
    pub goal: Option<i64>,
    /// Only projects listed under this initiative (its id).
    #[param(example = 1, minimum = 1)]
    pub initiative: Option<i64>,
    /// Only projects with a responsible division in this department (its id).
    #[param(example = 1, minimum = 1)]
    pub department: Option<i64>,
    /// Only projects this division is responsible for (its id).
    #[param(example = 1, minimum = 1)]
    pub division: Option<i64>,
    /// Only projects of this special account.
    #[param(example = "介護保険事業特別会計")]
    pub account: Option<String>,
    /// Words in the name or in any description, matched after NFKC normalisation, case folding and
    /// katakana/hiragana folding.
    #[param(example = "ハザード")]
    pub q: Option<String>,
}

/// List projects.
#[utoipa::path(
    tag = "projects",
    params(ProjectParams, CommonParams, PageParams),
    responses((status = 200, description = "A page of projects", body = Collection<Project>), ListErrors)
)]
#[get("/projects")]
pub async fn list(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = ProjectFilter {
        common: params.common()?,
        goal: params.id("goal")?,
        initiative: params.id("initiative")?,
        department: params.id("department")?,
        division: params.id("division")?,
        account: params.text("account")?,
        q: params.text("q")?,
    };
    let page = params.page()?;
    params.finish()?;
    let listing = db.run(move |conn| store::list(conn, &filter, page)).await?;
    Ok(collection::<_, Project>(&request, page, listing))
}

/// Get one project.
#[utoipa::path(
    tag = "projects",
    params(("id" = i64, Path, description = "Project id", example = 1)),
    responses((status = 200, description = "The project", body = Project), ItemErrors)
)]
#[get("/projects/{id}")]
pub async fn get(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<Project>, ApiError> {
    let id = id.into_inner();
    let record = db.run(move |conn| store::get(conn, id)).await?;
    Ok(web::Json(record.into()))
}
