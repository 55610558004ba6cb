//! Projects (事業), where they appear in the plan, and who is responsible for them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::goals::{initiative_ids_of_goal, CommonFilter};
use super::schema::{departments, divisions, initiatives, project_appearances, project_divisions, projects};
use super::{filter_common, load_page, Db, DbConnection, Listing, Page};
use crate::domain::text::{fold_for_search, like_contains, searchable};
use crate::error::ApiError;

super::sortable!(
    PROJECT_SORT,
    sort_projects,
    projects,
    [id, code, name, account, updated_at]
);

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
pub struct ProjectWithLinks {
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
                    .filter(project_appearances::initiative_id.eq_any(initiative_ids_of_goal!(goal))),
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
                project_divisions::table.select(project_divisions::project_id).filter(
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
) -> Result<Listing<ProjectWithLinks>, ApiError> {
    let listing = load_page!(conn, filtered(filter), ProjectRow, sort_projects, page);
    listing.try_map(|items| with_details(conn, items))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<ProjectWithLinks, ApiError> {
    let rows = projects::table.find(id).select(ProjectRow::as_select()).load(conn)?;
    with_details(conn, rows)?
        .pop()
        .ok_or_else(|| ApiError::not_found("project", id))
}

/// Adds appearances and divisions to a page of projects: two queries for the whole page.
fn with_details(conn: &mut DbConnection, rows: Vec<ProjectRow>) -> Result<Vec<ProjectWithLinks>, ApiError> {
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
        appearances.entry(appearance.project_id).or_default().push(appearance);
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
        divisions.entry(division.project_id).or_default().push(division);
    }
    Ok(rows
        .into_iter()
        .map(|project| ProjectWithLinks {
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

/// The project tables of many initiatives, each row with its initiative: one query.
pub fn in_initiatives(
    conn: &mut DbConnection,
    initiative_ids: &[i64],
) -> Result<Vec<(i64, InitiativeProjectRow)>, ApiError> {
    Ok(project_appearances::table
        .inner_join(projects::table)
        .filter(project_appearances::initiative_id.eq_any(initiative_ids))
        .order((project_appearances::initiative_id, project_appearances::position))
        .select((
            project_appearances::initiative_id,
            (
                projects::id,
                projects::code,
                projects::name,
                projects::account,
                project_appearances::position,
                project_appearances::description,
            ),
        ))
        .load(conn)?)
}

pub fn in_initiative(conn: &mut DbConnection, initiative: i64) -> Result<Vec<InitiativeProjectRow>, ApiError> {
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

/// Editable fields of a project, with where it appears and who is responsible.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectForm {
    /// The plan it belongs to (fixed once created).
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub plan_id: i64,
    /// Unique within the plan.
    #[schema(example = "P148", min_length = 1, max_length = 50)]
    pub code: String,
    /// Unique within the plan.
    #[schema(example = "国内交流推進事業", min_length = 1, max_length = 200)]
    pub name: String,
    /// Special account (特別会計), or null.
    #[serde(default)]
    #[schema(example = json!(null), min_length = 1, max_length = 200)]
    pub account: Option<String>,
    /// Ids of the responsible divisions, in order (at least one).
    #[schema(example = json!([1]), min_items = 1, max_items = 50)]
    #[serde(deserialize_with = "crate::domain::input::integer::list")]
    pub divisions: Vec<i64>,
    /// Where the project is listed, each with its description there (at least one).
    #[schema(min_items = 1, max_items = 50)]
    pub appearances: Vec<AppearanceForm>,
}

/// One listing of a project under an initiative.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppearanceForm {
    #[schema(example = 1)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub initiative_id: i64,
    #[schema(
        example = "国内友好都市との訪問団の受入れ及び派遣を行います。",
        min_length = 1,
        max_length = 2000
    )]
    pub description: String,
}

use super::goals::parent_plan;
use super::{code_taken, id_by_code, plan_of};
use crate::domain::validate::{Checks, MAX_CODE, MAX_DESCRIPTION, MAX_NAME};

/// Most divisions or appearances one project may list.
const MAX_LINKS: usize = 50;

pub fn validate(conn: &mut DbConnection, form: &ProjectForm, id: Option<i64>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.text("name", &form.name, MAX_NAME);
    if let Some(account) = &form.account {
        checks.text("account", account, MAX_NAME);
    }
    let exists = super::plans::exists(conn, form.plan_id)?;
    let plan = parent_plan(
        &mut checks,
        "plan_id",
        "plan",
        exists.then_some(form.plan_id),
        form.plan_id,
    );
    if let (Some(id), Some(plan)) = (id, plan) {
        super::goals::same_plan(&mut checks, "plan_id", plan_of!(conn, projects, id), Some(plan));
    }
    if form.divisions.is_empty() || form.divisions.len() > MAX_LINKS {
        checks.fail("divisions", format!("must list 1 to {MAX_LINKS} responsible divisions"));
    }
    if form.appearances.is_empty() || form.appearances.len() > MAX_LINKS {
        checks.fail(
            "appearances",
            format!("must list 1 to {MAX_LINKS} places the project appears"),
        );
    }
    for (index, division) in form.divisions.iter().enumerate() {
        let field = format!("divisions[{index}]");
        if form.divisions[..index].contains(division) {
            checks.refuse(&field, "is listed twice");
        } else if plan.is_some() && plan_of!(conn, divisions, *division) != plan {
            checks.refuse(&field, format!("division {division} does not exist in this plan"));
        }
    }
    for (index, appearance) in form.appearances.iter().enumerate() {
        let field = format!("appearances[{index}]");
        checks.text(
            &format!("{field}.description"),
            &appearance.description,
            MAX_DESCRIPTION,
        );
        if form.appearances[..index]
            .iter()
            .any(|other| other.initiative_id == appearance.initiative_id)
        {
            checks.refuse(&format!("{field}.initiative_id"), "is listed twice");
        } else if plan.is_some() && plan_of!(conn, initiatives, appearance.initiative_id) != plan {
            checks.refuse(
                &format!("{field}.initiative_id"),
                format!("initiative {} does not exist in this plan", appearance.initiative_id),
            );
        }
    }
    if let Some(plan) = plan {
        if code_taken!(conn, projects, plan, code, &form.code, id) {
            checks.refuse("code", "is already used by another project of this plan");
        }
        if code_taken!(conn, projects, plan, name, &form.name, id) {
            checks.refuse("name", "is already the name of another project of this plan");
        }
    }
    checks.finish()
}

/// The departments of divisions: what a department-restricted token is checked against.
pub fn departments_of(conn: &mut DbConnection, division_ids: &[i64]) -> Result<Vec<i64>, ApiError> {
    Ok(divisions::table
        .filter(divisions::id.eq_any(division_ids))
        .select(divisions::department_id)
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, form: &ProjectForm) -> Result<i64, ApiError> {
    let now = super::now();
    diesel::insert_into(projects::table)
        .values((
            projects::plan_id.eq(form.plan_id),
            projects::code.eq(&form.code),
            projects::name.eq(&form.name),
            projects::account.eq(&form.account),
            projects::search_text.eq(searchable(&form.name)),
            projects::created_at.eq(now),
            projects::updated_at.eq(now),
        ))
        .execute(conn)?;
    let id = id_by_code!(conn, projects, form.plan_id, &form.code);
    replace_links(conn, id, form)?;
    Ok(id)
}

pub fn update(conn: &mut DbConnection, id: i64, form: &ProjectForm) -> Result<(), ApiError> {
    diesel::update(projects::table.find(id))
        .set((
            projects::code.eq(&form.code),
            projects::name.eq(&form.name),
            projects::account.eq(&form.account),
            projects::search_text.eq(searchable(&form.name)),
            projects::version.eq(projects::version + 1),
            projects::updated_at.eq(super::now()),
        ))
        .execute(conn)?;
    replace_links(conn, id, form)
}

/// Sets the project's divisions and appearances to the form's. An appearance that stays keeps its
/// place in its initiative's table; a new one goes to the end of that table.
fn replace_links(conn: &mut DbConnection, id: i64, form: &ProjectForm) -> Result<(), ApiError> {
    diesel::delete(project_divisions::table.filter(project_divisions::project_id.eq(id))).execute(conn)?;
    for (position, division) in form.divisions.iter().enumerate() {
        diesel::insert_into(project_divisions::table)
            .values((
                project_divisions::project_id.eq(id),
                project_divisions::division_id.eq(division),
                project_divisions::position.eq(position as i32 + 1),
            ))
            .execute(conn)?;
    }
    let kept: Vec<i64> = form
        .appearances
        .iter()
        .map(|appearance| appearance.initiative_id)
        .collect();
    diesel::delete(
        project_appearances::table
            .filter(project_appearances::project_id.eq(id))
            .filter(project_appearances::initiative_id.ne_all(&kept)),
    )
    .execute(conn)?;
    for appearance in &form.appearances {
        let search_text = searchable(&appearance.description);
        let updated = diesel::update(
            project_appearances::table
                .filter(project_appearances::project_id.eq(id))
                .filter(project_appearances::initiative_id.eq(appearance.initiative_id)),
        )
        .set((
            project_appearances::description.eq(&appearance.description),
            project_appearances::search_text.eq(&search_text),
        ))
        .execute(conn)?;
        if updated == 0 {
            let last: Option<i32> = project_appearances::table
                .filter(project_appearances::initiative_id.eq(appearance.initiative_id))
                .select(diesel::dsl::max(project_appearances::position))
                .first(conn)?;
            diesel::insert_into(project_appearances::table)
                .values((
                    project_appearances::project_id.eq(id),
                    project_appearances::initiative_id.eq(appearance.initiative_id),
                    project_appearances::position.eq(last.unwrap_or(0) + 1),
                    project_appearances::description.eq(&appearance.description),
                    project_appearances::search_text.eq(&search_text),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// A project's appearances and division links are part of it: they go with it.
pub fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(project_appearances::table.filter(project_appearances::project_id.eq(id))).execute(conn)?;
    diesel::delete(project_divisions::table.filter(project_divisions::project_id.eq(id))).execute(conn)?;
    diesel::delete(projects::table.find(id)).execute(conn)?;
    Ok(())
}

/// Places a project in its initiative's table (an import keeps the table's order as given).
pub fn set_appearance_position(
    conn: &mut DbConnection,
    project_id: i64,
    initiative_id: i64,
    position: i32,
) -> Result<(), ApiError> {
    diesel::update(
        project_appearances::table
            .filter(project_appearances::project_id.eq(project_id))
            .filter(project_appearances::initiative_id.eq(initiative_id)),
    )
    .set(project_appearances::position.eq(position))
    .execute(conn)?;
    Ok(())
}

/// A division responsible for a project of an initiative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiativeDivision {
    pub initiative_id: i64,
    pub division: String,
    pub department_id: i64,
}

/// The divisions responsible for the projects of these initiatives, each once per initiative, in
/// the order of the initiative's project table: two queries.
pub fn divisions_of_initiatives(
    conn: &mut DbConnection,
    initiative_ids: &[i64],
) -> Result<Vec<InitiativeDivision>, ApiError> {
    let listed: Vec<(i64, i64)> = project_appearances::table
        .filter(project_appearances::initiative_id.eq_any(initiative_ids))
        .order((project_appearances::initiative_id, project_appearances::position))
        .select((project_appearances::initiative_id, project_appearances::project_id))
        .load(conn)?;
    let project_ids: Vec<i64> = listed.iter().map(|(_, project)| *project).collect();
    let responsible: Vec<(i64, String, i64)> = project_divisions::table
        .inner_join(divisions::table)
        .filter(project_divisions::project_id.eq_any(&project_ids))
        .order((project_divisions::project_id, project_divisions::position))
        .select((project_divisions::project_id, divisions::name, divisions::department_id))
        .load(conn)?;
    let mut found: Vec<InitiativeDivision> = Vec::new();
    for (initiative_id, project) in listed {
        for (_, division, department_id) in responsible.iter().filter(|(of, ..)| *of == project) {
            let entry = InitiativeDivision {
                initiative_id,
                division: division.clone(),
                department_id: *department_id,
            };
            if !found.contains(&entry) {
                found.push(entry);
            }
        }
    }
    Ok(found)
}

/// Whether a department has a project in an initiative: what a token limited to the department
/// may record the KPIs of.
pub fn initiative_in_department(
    conn: &mut DbConnection,
    initiative_id: i64,
    department: i64,
) -> Result<bool, ApiError> {
    Ok(divisions_of_initiatives(conn, &[initiative_id])?
        .iter()
        .any(|division| division.department_id == department))
}
