//! `/departments` and `/divisions`: who is responsible for the projects.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::records::{record_endpoints, Record};
use super::{list_response, utc, Collection, CommonParams, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::departments::{self as store, DepartmentForm, DepartmentRow, DivisionFilter, DivisionForm, DivisionRow};
use crate::db::{Database, DbConnection};
use crate::error::{ApiError, ListErrors};

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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
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
            version: row.version,
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
            version: row.version,
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filter of divisions.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DivisionParams {
    /// Only divisions of this department (its id).
    #[param(example = 1, inline)]
    pub department: Option<crate::api::query::documented::Id>,
}

/// List departments with their divisions.
#[utoipa::path(
    operation_id = "listDepartments",
    tag = "departments",
    params(CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of departments", content((Collection<Department> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/departments")]
pub async fn list_departments(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = params.common()?;
    let output = params.output(&request)?;
    let page = params.page(store::DEPARTMENT_SORT)?;
    params.finish()?;
    list_response::<_, Department, _>(&db, &request, page, output, move |conn, page| {
        store::list_departments(conn, &filter, page)
    })
    .await
}

/// List divisions.
#[utoipa::path(
    operation_id = "listDivisions",
    tag = "divisions",
    params(DivisionParams, CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of divisions", content((Collection<Division> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/divisions")]
pub async fn list_divisions(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = DivisionFilter {
        common: params.common()?,
        department: params.id("department")?,
    };
    let output = params.output(&request)?;
    let page = params.page(store::DIVISION_SORT)?;
    params.finish()?;
    list_response::<_, Division, _>(&db, &request, page, output, move |conn, page| {
        store::list_divisions(conn, &filter, page)
    })
    .await
}

/// Departments are written by admins.
pub struct DepartmentRecord;

impl Record for DepartmentRecord {
    const RESOURCE: &'static str = "department";
    const PATH: &'static str = "/api/v1/departments";
    const SCOPE: Scope = Scope::Admin;
    type View = Department;
    type Input = DepartmentForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Department, ApiError> {
        Ok(store::get_department(conn, id)?.into())
    }

    fn plan_of(view: &Department) -> Option<i64> {
        Some(view.plan_id)
    }

    fn input_of(view: &Department) -> DepartmentForm {
        DepartmentForm {
            plan_id: view.plan_id,
            code: view.code.clone(),
            name: view.name.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &DepartmentForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate_department(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &DepartmentForm) -> Result<i64, ApiError> {
        store::insert_department(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &DepartmentForm) -> Result<(), ApiError> {
        store::update_department(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        store::department_dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete_department(conn, id)
    }
}

record_endpoints! {
    record: DepartmentRecord, name: "Department", form: DepartmentForm, view: Department, tag: "departments", scope: "admin",
    collection: "/departments", item: "/departments/{id}",
    get: get_department "Get one department with its divisions.",
    create: create_department "Create a department (admin).",
    update: update_department "Correct a department (admin), as a JSON merge patch under If-Match.",
    delete: delete_department "Delete a department without divisions (admin), under If-Match.",
}

/// Divisions are written by admins.
pub struct DivisionRecord;

impl Record for DivisionRecord {
    const RESOURCE: &'static str = "division";
    const PATH: &'static str = "/api/v1/divisions";
    const SCOPE: Scope = Scope::Admin;
    type View = Division;
    type Input = DivisionForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Division, ApiError> {
        Ok(store::get_division(conn, id)?.into())
    }

    fn plan_of(view: &Division) -> Option<i64> {
        Some(view.plan_id)
    }

    fn input_of(view: &Division) -> DivisionForm {
        DivisionForm {
            department_id: view.department_id,
            code: view.code.clone(),
            name: view.name.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &DivisionForm, id: Option<i64>) -> Result<(), ApiError> {
        store::validate_division(conn, input, id)
    }

    fn insert(conn: &mut DbConnection, input: &DivisionForm) -> Result<i64, ApiError> {
        store::insert_division(conn, input)
    }

    fn update(conn: &mut DbConnection, id: i64, input: &DivisionForm) -> Result<(), ApiError> {
        store::update_division(conn, id, input)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        store::division_dependents(conn, id)
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete_division(conn, id)
    }
}

record_endpoints! {
    record: DivisionRecord, name: "Division", form: DivisionForm, view: Division, tag: "divisions", scope: "admin",
    collection: "/divisions", item: "/divisions/{id}",
    get: get_division "Get one division with its department.",
    create: create_division "Create a division (admin).",
    update: update_division "Correct a division (admin), as a JSON merge patch under If-Match.",
    delete: delete_division "Delete a division no project names (admin), under If-Match.",
}
