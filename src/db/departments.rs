//! Departments (部) and their divisions (課).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::goals::check_place;
use super::goals::CommonFilter;
use super::schema::{departments, divisions};
use super::{filter_common, find_row, load_page, Db, DbConnection, Listing, Page};
use crate::error::ApiError;

super::sortable!(
    DEPARTMENT_SORT,
    sort_departments,
    departments,
    [id, code, name, updated_at]
);
super::sortable!(
    DIVISION_SORT,
    sort_divisions,
    divisions,
    [id, code, name, department_id, updated_at]
);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct DepartmentRow {
    pub id: i64,
    pub plan_id: i64,
    pub code: String,
    pub name: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = divisions)]
pub struct DivisionRow {
    pub id: i64,
    pub plan_id: i64,
    pub department_id: i64,
    pub code: String,
    pub name: String,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default)]
pub struct DivisionFilter {
    pub common: CommonFilter,
    pub department: Option<i64>,
}

fn filtered_departments(filter: &CommonFilter) -> departments::BoxedQuery<'static, Db> {
    let mut query = departments::table.into_boxed();
    filter_common!(query, departments, filter);
    query
}

fn filtered_divisions(filter: &DivisionFilter) -> divisions::BoxedQuery<'static, Db> {
    let mut query = divisions::table.into_boxed();
    filter_common!(query, divisions, filter.common);
    if let Some(department) = filter.department {
        query = query.filter(divisions::department_id.eq(department));
    }
    query
}

/// A page of departments, each with its divisions (two queries).
pub fn list_departments(
    conn: &mut DbConnection,
    filter: &CommonFilter,
    page: Page,
) -> Result<Listing<(DepartmentRow, Vec<DivisionRow>)>, ApiError> {
    let listing = load_page!(
        conn,
        filtered_departments(filter),
        DepartmentRow,
        sort_departments,
        page
    );
    listing.try_map(|items| with_divisions(conn, items))
}

pub fn get_department(conn: &mut DbConnection, id: i64) -> Result<(DepartmentRow, Vec<DivisionRow>), ApiError> {
    let department = find_row!(conn, departments, DepartmentRow, "department", id);
    let mut with = with_divisions(conn, vec![department])?;
    Ok(with.remove(0))
}

fn with_divisions(
    conn: &mut DbConnection,
    rows: Vec<DepartmentRow>,
) -> Result<Vec<(DepartmentRow, Vec<DivisionRow>)>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut by_department: HashMap<i64, Vec<DivisionRow>> = HashMap::new();
    for division in divisions::table
        .filter(divisions::department_id.eq_any(ids))
        .order(divisions::id)
        .select(DivisionRow::as_select())
        .load(conn)?
    {
        by_department.entry(division.department_id).or_default().push(division);
    }
    Ok(rows
        .into_iter()
        .map(|department| {
            let divisions = by_department.remove(&department.id).unwrap_or_default();
            (department, divisions)
        })
        .collect())
}

/// A page of divisions, each with its department.
pub fn list_divisions(
    conn: &mut DbConnection,
    filter: &DivisionFilter,
    page: Page,
) -> Result<Listing<(DivisionRow, DepartmentRow)>, ApiError> {
    let listing = load_page!(conn, filtered_divisions(filter), DivisionRow, sort_divisions, page);
    listing.try_map(|items| with_department(conn, items))
}

pub fn get_division(conn: &mut DbConnection, id: i64) -> Result<(DivisionRow, DepartmentRow), ApiError> {
    let division = find_row!(conn, divisions, DivisionRow, "division", id);
    Ok(with_department(conn, vec![division])?.remove(0))
}

fn with_department(
    conn: &mut DbConnection,
    rows: Vec<DivisionRow>,
) -> Result<Vec<(DivisionRow, DepartmentRow)>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.department_id).collect();
    let departments: HashMap<i64, DepartmentRow> = departments::table
        .filter(departments::id.eq_any(ids))
        .select(DepartmentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|department| (department.id, department))
        .collect();
    rows.into_iter()
        .map(|division| {
            let department = departments
                .get(&division.department_id)
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("division {} has no department", division.id)))?;
            Ok((division, department))
        })
        .collect()
}

/// Editable fields of a department.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentForm {
    /// The plan it belongs to (fixed once created).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub plan_id: i64,
    /// Unique within the plan.
    #[schema(example = "D17", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = "デジタル推進部", min_length = 1, max_length = 200)]
    pub name: String,
}

/// Editable fields of a division.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DivisionForm {
    /// The department it belongs to (within the same plan).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub department_id: i64,
    /// Unique within the plan.
    #[schema(example = "D01-04", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(example = "デジタル推進課", min_length = 1, max_length = 200)]
    pub name: String,
}

use super::{count_of, id_by_code, plan_of};
use crate::domain::validate::{Checks, MAX_CODE, MAX_NAME};

pub fn validate_department(conn: &mut DbConnection, form: &DepartmentForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.text("name", &form.name, MAX_NAME);
    let exists = super::plans::exists(conn, form.plan_id)?;
    check_place!(
        checks,
        conn,
        departments,
        "department",
        id,
        &form.code,
        "plan_id",
        "plan",
        exists.then_some(form.plan_id),
        form.plan_id
    );
    checks.finish()
}

pub fn insert_department(conn: &mut DbConnection, form: &DepartmentForm) -> Result<i64, ApiError> {
    let now = super::now();
    diesel::insert_into(departments::table)
        .values((
            departments::plan_id.eq(form.plan_id),
            departments::code.eq(&form.code),
            departments::name.eq(&form.name),
            departments::created_at.eq(now),
            departments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id_by_code!(conn, departments, form.plan_id, &form.code))
}

pub fn update_department(conn: &mut DbConnection, id: i64, form: &DepartmentForm) -> Result<(), ApiError> {
    diesel::update(departments::table.find(id))
        .set((
            departments::code.eq(&form.code),
            departments::name.eq(&form.name),
            departments::version.eq(departments::version + 1),
            departments::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn department_dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    Ok(super::dependents(&[(
        count_of!(conn, divisions, department_id, id),
        "divisions",
    )]))
}

pub fn delete_department(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(departments::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn validate_division(conn: &mut DbConnection, form: &DivisionForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.text("name", &form.name, MAX_NAME);
    let department_plan = plan_of!(conn, departments, form.department_id);
    check_place!(
        checks,
        conn,
        divisions,
        "division",
        id,
        &form.code,
        "department_id",
        "department",
        department_plan,
        form.department_id
    );
    checks.finish()
}

pub fn insert_division(conn: &mut DbConnection, form: &DivisionForm) -> Result<i64, ApiError> {
    let now = super::now();
    let plan = plan_of!(conn, departments, form.department_id)
        .ok_or_else(|| ApiError::not_found("department", form.department_id))?;
    diesel::insert_into(divisions::table)
        .values((
            divisions::plan_id.eq(plan),
            divisions::department_id.eq(form.department_id),
            divisions::code.eq(&form.code),
            divisions::name.eq(&form.name),
            divisions::created_at.eq(now),
            divisions::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id_by_code!(conn, divisions, plan, &form.code))
}

pub fn update_division(conn: &mut DbConnection, id: i64, form: &DivisionForm) -> Result<(), ApiError> {
    diesel::update(divisions::table.find(id))
        .set((
            divisions::department_id.eq(form.department_id),
            divisions::code.eq(&form.code),
            divisions::name.eq(&form.name),
            divisions::version.eq(divisions::version + 1),
            divisions::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn division_dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    use super::schema::project_divisions;
    Ok(super::dependents(&[(
        count_of!(conn, project_divisions, division_id, id),
        "projects",
    )]))
}

pub fn delete_division(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(divisions::table.find(id)).execute(conn)?;
    Ok(())
}
