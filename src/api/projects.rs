//! `/projects`: the projects (事業) of the plan, where they appear and who runs them.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::departments::DepartmentRef;
use super::records::{record_endpoints, Record};
use super::{list_response, utc, Collection, CommonParams, OutputParams, PageParams, QueryParams};
use crate::auth::{Principal, Scope};
use crate::db::projects::{
    self as store, AppearanceForm, AppearanceRow, ProjectFilter, ProjectForm, ProjectWithLinks, ResponsibleDivisionRow,
};
use crate::db::{Database, DbConnection};
use crate::error::{ApiError, ListErrors};

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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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

impl From<ProjectWithLinks> for Project {
    fn from(record: ProjectWithLinks) -> Self {
        let row = record.project;
        Project {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            name: row.name,
            account: row.account,
            divisions: record.divisions.into_iter().map(Into::into).collect(),
            appearances: record.appearances.into_iter().map(Into::into).collect(),
            version: row.version,
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filters of projects.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectParams {
    /// Only projects listed under this goal (its id).
    #[param(example = 1, inline)]
    pub goal: Option<crate::api::query::documented::Id>,
    /// Only projects listed under this initiative (its id).
    #[param(example = 1, inline)]
    pub initiative: Option<crate::api::query::documented::Id>,
    /// Only projects with a responsible division in this department (its id).
    #[param(example = 1, inline)]
    pub department: Option<crate::api::query::documented::Id>,
    /// Only projects this division is responsible for (its id).
    #[param(example = 1, inline)]
    pub division: Option<crate::api::query::documented::Id>,
    /// Only projects of this special account.
    #[param(example = "介護保険事業特別会計", inline)]
    pub account: Option<crate::api::query::documented::Text>,
    /// Words in the name or in any description, matched after NFKC normalisation, case folding and
    /// katakana/hiragana folding.
    #[param(example = "ハザード", inline)]
    pub q: Option<crate::api::query::documented::Text>,
}

/// List projects.
#[utoipa::path(
    operation_id = "listProjects",
    tag = "projects",
    params(ProjectParams, CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of projects", content((Collection<Project> = "application/json"), (String = "text/csv"))), ListErrors)
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
    let output = params.output(&request)?;
    let page = params.page(store::PROJECT_SORT)?;
    params.finish()?;
    list_response::<_, Project, _>(&db, &request, page, output, move |conn, page| {
        store::list(conn, &filter, page)
    })
    .await
}

/// Projects are written with the `projects:write` scope; a `dept` claim narrows it to projects
/// with a responsible division in that department, before and after the change.
pub struct ProjectRecord;

impl Record for ProjectRecord {
    const RESOURCE: &'static str = "project";
    const PATH: &'static str = "/api/v1/projects";
    const SCOPE: Scope = Scope::ProjectsWrite;
    type View = Project;
    type Input = ProjectForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Project, ApiError> {
        Ok(store::get(conn, id)?.into())
    }

    fn plan_of(view: &Project) -> Option<i64> {
        Some(view.plan_id)
    }

    fn input_of(view: &Project) -> ProjectForm {
        ProjectForm {
            plan_id: view.plan_id,
            code: view.code.clone(),
            name: view.name.clone(),
            account: view.account.clone(),
            divisions: view.divisions.iter().map(|division| division.id).collect(),
            appearances: view
                .appearances
                .iter()
                .map(|appearance| AppearanceForm {
                    initiative_id: appearance.initiative_id,
                    description: appearance.description.clone(),
                })
                .collect(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &ProjectForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &ProjectForm) -> Result<i64, ApiError> {
        store::insert(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &ProjectForm) -> Result<(), ApiError> {
        store::update(conn, id, input)
    }

    fn dependents(_conn: &mut DbConnection, _id: i64) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete(conn, id)
    }

    fn authorize(
        principal: &Principal,
        conn: &mut DbConnection,
        before: Option<&Project>,
        after: Option<&ProjectForm>,
    ) -> Result<(), ApiError> {
        let Some(department) = principal.department.filter(|_| !principal.is_admin()) else {
            return Ok(());
        };
        let outside = || {
            ApiError::Forbidden(format!(
                "this token reaches only projects with a responsible division in department {department}"
            ))
        };
        if let Some(before) = before {
            if !before
                .divisions
                .iter()
                .any(|division| division.department.id == department)
            {
                return Err(outside());
            }
        }
        if let Some(after) = after {
            if !store::departments_of(conn, &after.divisions)?.contains(&department) {
                return Err(outside());
            }
        }
        Ok(())
    }
}

record_endpoints! {
    record: ProjectRecord, name: "Project", form: ProjectForm, view: Project, tag: "projects", scope: "projects:write",
    collection: "/projects", item: "/projects/{id}",
    get: get "Get one project.",
    create: create "Create a project with its appearances and divisions (`projects:write`).",
    update: update "Correct a project, its appearances or divisions (`projects:write`), as a JSON merge patch under If-Match.",
    delete: delete "Delete a project with its appearances (`projects:write`), under If-Match.",
}
