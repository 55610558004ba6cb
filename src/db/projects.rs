//! Projects (事業), where they appear in the plan, and who is responsible for them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::goals::{initiative_ids_of_goal, CommonFilter};
use super::schema::{
    departments, divisions, initiatives, project_appearances, project_divisions, projects,
};
use super::{filter_common, load_page, Db, DbConnection, Listing, Page};
use crate::domain::text::{fold_for_search, like_contains};
use crate::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: i64,
    pub plan_id: i64,
    pub code: String,
    pub name: String,
    pub account: Option<String>,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

/// A project's place in the plan: under which initiative, described how.
#[derive(Debug, Clone, Queryable)]
pub struct AppearanceRow {
    pub project_id: i64,
    pub initiative_id: i64,
    pub initiative_code: String,
    pub position: i32,
    pub description: String,
}

/// A responsible division with its department.
#[derive(Debug, Clone, Queryable)]
pub struct ResponsibleDivisionRow {
    pub project_id: i64,
    pub division_id: i64,
    pub division_code: String,
    pub division_name: String,
    pub department_id: i64,
    pub department_code: String,
    pub department_name: String,
}

/// A project with everything its API view shows.
#[derive(Debug, Clone)]
pub struct ProjectRecord {
    pub project: ProjectRow,
    pub appearances: Vec<AppearanceRow>,
    pub divisions: Vec<ResponsibleDivisionRow>,
}

#[derive(Debug, Default)]
pub struct ProjectFilter {
    pub common: CommonFilter,
    pub goal: Option<i64>,
    pub initiative: Option<i64>,
    pub department: Option<i64>,
    pub division: Option<i64>,
    pub account: Option<String>,
    pub q: Option<String>,
}

fn filtered(filter: &ProjectFilter) -> projects::BoxedQuery<'static, Db> {
    let mut query = projects::table.into_boxed();
    filter_common!(query, projects, filter.common);
    if let Some(goal) = filter.goal {
        query = query.filter(
            projects::id.eq_any(
                project_appearances::table
                    .select(project_appearances::project_id)
                    .filter(
                        project_appearances::initiative_id.eq_any(initiative_ids_of_goal!(goal)),
                    ),
            ),
        );
    }
    if let Some(initiative) = filter.initiative {
        query = query.filter(
            projects::id.eq_any(
                project_appearances::table
                    .select(project_appearances::project_id)
                    .filter(project_appearances::initiative_id.eq(initiative)),
            ),
        );
    }
    if let Some(division) = filter.division {
        query = query.filter(
            projects::id.eq_any(
                project_divisions::table
                    .select(project_divisions::project_id)
                    .filter(project_divisions::division_id.eq(division)),
            ),
        );
    }
    if let Some(department) = filter.department {
        query = query.filter(
            projects::id.eq_any(
                project_divisions::table
                    .select(project_divisions::project_id)
                    .filter(
                        project_divisions::division_id.eq_any(
                            divisions::table
                                .select(divisions::id)
                                .filter(divisions::department_id.eq(department)),
                        ),
                    ),
            ),
        );
    }
    if let Some(account) = &filter.account {
        query = query.filter(projects::account.eq(account.clone()));
    }
    if let Some(q) = &filter.q {
        let pattern = like_contains(&fold_for_search(q));
        query = query.filter(
            projects::search_text
                .like(pattern.clone())
                .escape('\\')
                .or(projects::id.eq_any(
                    project_appearances::table
                        .select(project_appearances::project_id)
                        .filter(project_appearances::search_text.like(pattern).escape('\\')),
                )),
        );
    }
    query
}

pub fn list(
    conn: &mut DbConnection,
    filter: &ProjectFilter,
    page: Page,
) -> Result<Listing<ProjectRecord>, ApiError> {
    let listing = load_page!(conn, filtered(filter), ProjectRow, projects::id, page);
    Ok(Listing {
        items: with_details(conn, listing.items)?,
        total: listing.total,
    })
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<ProjectRecord, ApiError> {
    let rows = projects::table
        .find(id)
        .select(ProjectRow::as_select())
        .load(conn)?;
    with_details(conn, rows)?
        .pop()
        .ok_or_else(|| ApiError::not_found("project", id))
}

/// Adds appearances and divisions to a page of projects: two queries for the whole page.
fn with_details(
    conn: &mut DbConnection,
    rows: Vec<ProjectRow>,
) -> Result<Vec<ProjectRecord>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut appearances: HashMap<i64, Vec<AppearanceRow>> = HashMap::new();
    for appearance in project_appearances::table
        .inner_join(initiatives::table)
        .filter(project_appearances::project_id.eq_any(&ids))
        .order((project_appearances::project_id, initiatives::id))
        .select((
            project_appearances::project_id,
            initiatives::id,
            initiatives::code,
            project_appearances::position,
            project_appearances::description,
        ))
        .load::<AppearanceRow>(conn)?
    {
        appearances
            .entry(appearance.project_id)
            .or_default()
            .push(appearance);
    }
    let mut divisions: HashMap<i64, Vec<ResponsibleDivisionRow>> = HashMap::new();
    for division in project_divisions::table
        .inner_join(divisions::table.inner_join(departments::table))
        .filter(project_divisions::project_id.eq_any(&ids))
        .order((project_divisions::project_id, project_divisions::position))
        .select((
            project_divisions::project_id,
            divisions::id,
            divisions::code,
            divisions::name,
            departments::id,
            departments::code,
            departments::name,
        ))
        .load::<ResponsibleDivisionRow>(conn)?
    {
        divisions
            .entry(division.project_id)
            .or_default()
            .push(division);
    }
    Ok(rows
        .into_iter()
        .map(|project| ProjectRecord {
            appearances: appearances.remove(&project.id).unwrap_or_default(),
            divisions: divisions.remove(&project.id).unwrap_or_default(),
            project,
        })
        .collect())
}

/// A project as it appears in one initiative's table.
#[derive(Debug, Clone, Queryable)]
pub struct InitiativeProjectRow {
    pub project_id: i64,
    pub project_code: String,
    pub name: String,
    pub account: Option<String>,
    pub position: i32,
    pub description: String,
}

pub fn in_initiative(
    conn: &mut DbConnection,
    initiative: i64,
) -> Result<Vec<InitiativeProjectRow>, ApiError> {
    Ok(project_appearances::table
        .inner_join(projects::table)
        .filter(project_appearances::initiative_id.eq(initiative))
        .order(project_appearances::position)
        .select((
            projects::id,
            projects::code,
            projects::name,
            projects::account,
            project_appearances::position,
            project_appearances::description,
        ))
        .load(conn)?)
}
