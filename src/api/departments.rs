//! `/departments` and `/divisions`: who is responsible for the projects.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{collection, utc, Collection, CommonParams, PageParams, QueryParams};
use crate::db::departments::{self as store, DepartmentRow, DivisionFilter, DivisionRow};
use crate::db::Database;
use crate::error::{ApiError, ItemErrors, ListErrors};

/// A department (部) with its divisions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Department {
    #[schema(example = 1)]
    pub id: i64,
    /// `D` and the order of first appearance in the document.
    #[schema(example = "D01")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = "政策部")]
    pub name: String,
    pub divisions: Vec<DivisionRef>,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A division (課) with its department.
#[derive(Debug, Serialize, ToSchema)]
pub struct Division {
    #[schema(example = 1)]
    pub id: i64,
    /// The department's code, `-`, and the order of first appearance.
    #[schema(example = "D01-01")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 1)]
    pub department_id: i64,
    #[schema(example = "企画政策課")]
    pub name: String,
    pub department: DepartmentRef,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A department, named.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentRef {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "D01")]
    pub code: String,
    #[schema(example = "政策部")]
    pub name: String,
}

/// A division, named.
#[derive(Debug, Serialize, ToSchema)]
pub struct DivisionRef {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "D01-01")]
    pub code: String,
    #[schema(example = "企画政策課")]
    pub name: String,
}

impl From<(DepartmentRow, Vec<DivisionRow>)> for Department {
    fn from((row, divisions): (DepartmentRow, Vec<DivisionRow>)) -> Self {
        Department {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            name: row.name,
            divisions: divisions
                .into_iter()
                .map(|division| DivisionRef {
                    id: division.id,
                    code: division.code,
                    name: division.name,
                })
                .collect(),
            updated_at: utc(row.updated_at),
        }
    }
}

impl From<(DivisionRow, DepartmentRow)> for Division {
    fn from((row, department): (DivisionRow, DepartmentRow)) -> Self {
        Division {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            department_id: row.department_id,
            name: row.name,
            department: DepartmentRef {
                id: department.id,
                code: department.code,
                name: department.name,
            },
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filter of divisions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DivisionParams {
    /// Only divisions of this department (its id).
    #[param(example = 1, minimum = 1)]
    pub department: Option<i64>,
}

/// List departments with their divisions.
#[utoipa::path(
    tag = "departments",
    params(CommonParams, PageParams),
    responses((status = 200, description = "A page of departments", body = Collection<Department>), ListErrors)
)]
#[get("/departments")]
pub async fn list_departments(
    db: web::Data<Database>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = params.common()?;
    let page = params.page()?;
    params.finish()?;
    let listing = db
        .run(move |conn| store::list_departments(conn, &filter, page))
        .await?;
    Ok(collection::<_, Department>(&request, page, listing))
}

/// Get one department with its divisions.
#[utoipa::path(
    tag = "departments",
    params(("id" = i64, Path, description = "Department id", example = 1)),
    responses((status = 200, description = "The department", body = Department), ItemErrors)
)]
#[get("/departments/{id}")]
pub async fn get_department(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<Department>, ApiError> {
    let id = id.into_inner();
    let record = db.run(move |conn| store::get_department(conn, id)).await?;
    Ok(web::Json(record.into()))
}

/// List divisions.
#[utoipa::path(
    tag = "divisions",
    params(DivisionParams, CommonParams, PageParams),
    responses((status = 200, description = "A page of divisions", body = Collection<Division>), ListErrors)
)]
#[get("/divisions")]
pub async fn list_divisions(
    db: web::Data<Database>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = DivisionFilter {
        common: params.common()?,
        department: params.id("department")?,
    };
    let page = params.page()?;
    params.finish()?;
    let listing = db
        .run(move |conn| store::list_divisions(conn, &filter, page))
        .await?;
    Ok(collection::<_, Division>(&request, page, listing))
}

/// Get one division with its department.
#[utoipa::path(
    tag = "divisions",
    params(("id" = i64, Path, description = "Division id", example = 1)),
    responses((status = 200, description = "The division", body = Division), ItemErrors)
)]
#[get("/divisions/{id}")]
pub async fn get_division(
    db: web::Data<Database>,
    id: web::Path<i64>,
) -> Result<web::Json<Division>, ApiError> {
    let id = id.into_inner();
    let record = db.run(move |conn| store::get_division(conn, id)).await?;
    Ok(web::Json(record.into()))
}
