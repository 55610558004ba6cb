//! Departments (部) and their divisions (課).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::goals::CommonFilter;
use super::schema::{departments, divisions};
use super::{filter_common, find_row, load_page, Db, DbConnection, Listing, Page};
use crate::error::ApiError;

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
        departments::id,
        page
    );
    Ok(Listing {
        items: with_divisions(conn, listing.items)?,
        total: listing.total,
    })
}

pub fn get_department(
    conn: &mut DbConnection,
    id: i64,
) -> Result<(DepartmentRow, Vec<DivisionRow>), ApiError> {
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
        by_department
            .entry(division.department_id)
            .or_default()
            .push(division);
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
    let listing = load_page!(
        conn,
        filtered_divisions(filter),
        DivisionRow,
        divisions::id,
        page
    );
    Ok(Listing {
        items: with_department(conn, listing.items)?,
        total: listing.total,
    })
}

pub fn get_division(
    conn: &mut DbConnection,
    id: i64,
) -> Result<(DivisionRow, DepartmentRow), ApiError> {
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
                .ok_or_else(|| {
                    ApiError::Internal(format!("division {} has no department", division.id))
                })?;
            Ok((division, department))
        })
        .collect()
}
