//! Scale mode: copies of the seeded plan as further plans, so that the service can be measured
//! and tested with a thousand municipalities' worth of data.
//!
//! Each table is copied for every new plan at once with one `INSERT … SELECT`, mapping parent
//! ids through their codes (unique within a plan): a dozen statements whatever the number of
//! copies, on either backend. Only integers computed here are formatted into the SQL.

use diesel::prelude::*;

use super::schema::plans;
use super::DbConnection;
use crate::error::ApiError;

/// What `seed --synthetic` did.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntheticOutcome {
    pub added: i64,
    pub plans: i64,
}

/// The code of the `number`-th plan copied from `base_code` (the base plan is number 1).
pub fn synthetic_code(base_code: &str, number: i64) -> String {
    format!("{base_code}-synthetic-{number:04}")
}

/// Adds copies of the plan `base_code` until there are `total` plans derived from it (the base
/// plan itself and its copies), in one transaction. Copies already present are kept.
pub fn add_copies(conn: &mut DbConnection, base_code: &str, total: i64) -> Result<SyntheticOutcome, ApiError> {
    super::write::write_transaction(conn, |conn| {
        let base: i64 = plans::table
            .filter(plans::code.eq(base_code))
            .select(plans::id)
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::Internal(format!("plan {base_code} is not loaded: seed it first")))?;
        let existing: i64 = plans::table
            .filter(plans::code.like(format!("{base_code}-synthetic-%")))
            .count()
            .get_result(conn)?;
        let first_new: i64 = plans::table
            .select(diesel::dsl::max(plans::id))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0)
            + 1;
        let mut added = 0;
        for number in (existing + 2)..=total {
            let code = synthetic_code(base_code, number).replace('\'', "''");
            diesel::sql_query(format!(
                "INSERT INTO plans (code, name, document_title, municipality_code, municipality_name, prefecture, \
                 period_start_year, period_end_year, grading_scheme, publisher, source_url, published_on, licence, \
                 licence_url, description, keywords, contact_name, contact_email, contact_url, created_at, updated_at) \
                 SELECT '{code}', name || ' (synthetic {number})', document_title, municipality_code, \
                 municipality_name, prefecture, period_start_year, period_end_year, grading_scheme, publisher, \
                 source_url, published_on, licence, licence_url, description, keywords, contact_name, contact_email, \
                 contact_url, created_at, updated_at FROM plans WHERE id = {base}"
            ))
            .execute(conn)?;
            added += 1;
        }
        if added > 0 {
            for statement in copy_statements(base, first_new) {
                diesel::sql_query(statement).execute(conn)?;
            }
        }
        Ok(SyntheticOutcome {
            added,
            plans: existing + 1 + added,
        })
    })
}

/// `INSERT … SELECT` statements copying every record of plan `base` into each plan whose id is
/// at least `first_new`, parents before children; in id order, so that a copy's records keep
/// the base plan's order.
fn copy_statements(base: i64, first_new: i64) -> Vec<String> {
    // Every new plan, joined to the base plan's rows: `np` is the new plan.
    let new_plans = format!("JOIN plans np ON np.id >= {first_new}");
    // A record of the new plan with the same code as the base record `old` in `table`.
    let same = |table: &str, alias: &str, old: &str| {
        format!("JOIN {table} {alias} ON {alias}.plan_id = np.id AND {alias}.code = {old}.code")
    };
    vec![
        format!(
            "INSERT INTO source_corrections (plan_id, record, field, published, normalised, reason) \
             SELECT np.id, c.record, c.field, c.published, c.normalised, c.reason \
             FROM source_corrections c {new_plans} WHERE c.plan_id = {base} ORDER BY np.id, c.id"
        ),
        format!(
            "INSERT INTO departments (plan_id, code, name, created_at, updated_at) \
             SELECT np.id, d.code, d.name, d.created_at, d.updated_at FROM departments d {new_plans} \
             WHERE d.plan_id = {base} ORDER BY np.id, d.id"
        ),
        format!(
            "INSERT INTO divisions (plan_id, department_id, code, name, created_at, updated_at) \
             SELECT np.id, nd.id, v.code, v.name, v.created_at, v.updated_at FROM divisions v \
             JOIN departments od ON od.id = v.department_id {new_plans} {} WHERE v.plan_id = {base} ORDER BY np.id, v.id",
            same("departments", "nd", "od")
        ),
        format!(
            "INSERT INTO projects (plan_id, code, name, account, search_text, created_at, updated_at) \
             SELECT np.id, p.code, p.name, p.account, p.search_text, p.created_at, p.updated_at FROM projects p \
             {new_plans} WHERE p.plan_id = {base} ORDER BY np.id, p.id"
        ),
        format!(
            "INSERT INTO project_divisions (project_id, division_id, position) \
             SELECT npr.id, nv.id, pd.position FROM project_divisions pd \
             JOIN projects op ON op.id = pd.project_id JOIN divisions ov ON ov.id = pd.division_id \
             {new_plans} {} {} WHERE op.plan_id = {base} ORDER BY np.id, pd.project_id, pd.division_id",
            same("projects", "npr", "op"),
            same("divisions", "nv", "ov")
        ),
        format!(
            "INSERT INTO goals (plan_id, code, number, category, title, created_at, updated_at) \
             SELECT np.id, g.code, g.number, g.category, g.title, g.created_at, g.updated_at FROM goals g \
             {new_plans} WHERE g.plan_id = {base} ORDER BY np.id, g.id"
        ),
        format!(
            "INSERT INTO measures (plan_id, goal_id, code, number, title, created_at, updated_at) \
             SELECT np.id, ng.id, m.code, m.number, m.title, m.created_at, m.updated_at FROM measures m \
             JOIN goals og ON og.id = m.goal_id {new_plans} {} WHERE m.plan_id = {base} ORDER BY np.id, m.id",
            same("goals", "ng", "og")
        ),
        format!(
            "INSERT INTO initiatives (plan_id, measure_id, code, number, title, created_at, updated_at) \
             SELECT np.id, nm.id, i.code, i.number, i.title, i.created_at, i.updated_at FROM initiatives i \
             JOIN measures om ON om.id = i.measure_id {new_plans} {} WHERE i.plan_id = {base} ORDER BY np.id, i.id",
            same("measures", "nm", "om")
        ),
        format!(
            "INSERT INTO kpis (plan_id, initiative_id, code, name, unit, cumulative, direction, baseline_value, \
             baseline_year, baseline_year_type, target_value, target_year, target_year_type, search_text, source, \
             progress_status, created_at, updated_at) \
             SELECT np.id, ni.id, k.code, k.name, k.unit, k.cumulative, k.direction, k.baseline_value, \
             k.baseline_year, k.baseline_year_type, k.target_value, k.target_year, k.target_year_type, \
             k.search_text, k.source, k.progress_status, k.created_at, k.updated_at FROM kpis k \
             JOIN initiatives oi ON oi.id = k.initiative_id {new_plans} {} WHERE k.plan_id = {base} ORDER BY np.id, k.id",
            same("initiatives", "ni", "oi")
        ),
        format!(
            "INSERT INTO kpi_search_grams (gram, kpi_id) \
             SELECT s.gram, nk.id FROM kpi_search_grams s JOIN kpis ok ON ok.id = s.kpi_id \
             {new_plans} {} WHERE ok.plan_id = {base} ORDER BY np.id, s.kpi_id, s.gram",
            same("kpis", "nk", "ok")
        ),
        format!(
            "INSERT INTO kpi_results (kpi_id, year, value, status, note, source, analysis, next_steps, created_at, updated_at) \
             SELECT nk.id, r.year, r.value, r.status, r.note, r.source, r.analysis, r.next_steps, r.created_at, r.updated_at \
             FROM kpi_results r JOIN kpis ok ON ok.id = r.kpi_id {new_plans} {} WHERE ok.plan_id = {base} ORDER BY np.id, r.id",
            same("kpis", "nk", "ok")
        ),
        format!(
            "INSERT INTO project_appearances (project_id, initiative_id, position, description, search_text) \
             SELECT npr.id, ni.id, a.position, a.description, a.search_text FROM project_appearances a \
             JOIN projects op ON op.id = a.project_id JOIN initiatives oi ON oi.id = a.initiative_id \
             {new_plans} {} {} WHERE op.plan_id = {base} ORDER BY np.id, a.id",
            same("projects", "npr", "op"),
            same("initiatives", "ni", "oi")
        ),
    ]
}
