//! Loads a dataset into the database: idempotently (a plan already present is left as it is)
//! and in one transaction (all of it or nothing).

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::{
    departments, divisions, goals, initiatives, kpis, measures, plans, project_appearances, project_divisions, projects,
};
use super::DbConnection;
use crate::dataset::Dataset;
use crate::domain::kpi::direction;
use crate::domain::text::searchable;
use crate::error::ApiError;

#[derive(Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    Loaded { plan_id: i64 },
    AlreadyPresent { plan_id: i64 },
}

/// Inserts one row and reads back its id by its unique (plan, code): portable across backends,
/// where `RETURNING` is not.
macro_rules! insert_coded {
    ($conn:expr, $table:ident, $plan_id:expr, $code:expr, $values:expr) => {{
        diesel::insert_into($table::table).values($values).execute($conn)?;
        $table::table
            .filter($table::plan_id.eq($plan_id))
            .filter($table::code.eq($code))
            .select($table::id)
            .first::<i64>($conn)?
    }};
}

pub fn seed(conn: &mut DbConnection, dataset: &Dataset) -> Result<SeedOutcome, ApiError> {
    if let Some(plan_id) = super::plans::id_of_code(conn, &dataset.plan.code)? {
        return Ok(SeedOutcome::AlreadyPresent { plan_id });
    }
    match super::write::write_transaction(conn, |conn| load(conn, dataset)) {
        Ok(plan_id) => Ok(SeedOutcome::Loaded { plan_id }),
        // Another instance seeding the same database at the same moment won the race.
        Err(error) => match super::plans::id_of_code(conn, &dataset.plan.code)? {
            Some(plan_id) => Ok(SeedOutcome::AlreadyPresent { plan_id }),
            None => Err(error),
        },
    }
}

fn load(conn: &mut DbConnection, dataset: &Dataset) -> Result<i64, ApiError> {
    let now = super::now();
    let plan = &dataset.plan;
    diesel::insert_into(plans::table)
        .values((
            plans::code.eq(&plan.code),
            plans::name.eq(&plan.name),
            plans::document_title.eq(&plan.document_title),
            plans::municipality_code.eq(&plan.municipality_code),
            plans::municipality_name.eq(&plan.municipality_name),
            plans::prefecture.eq(&plan.prefecture),
            plans::period_start_year.eq(plan.period_start_year),
            plans::period_end_year.eq(plan.period_end_year),
            plans::publisher.eq(&plan.publisher),
            plans::source_url.eq(&plan.source_url),
            plans::published_on.eq(&plan.published_on),
            plans::licence.eq(&plan.licence),
            plans::licence_url.eq(&plan.licence_url),
            plans::description.eq(&plan.description),
            plans::keywords.eq(serde_json::to_string(&plan.keywords).unwrap_or_else(|_| "[]".into())),
            plans::contact_name.eq(&plan.contact_name),
            plans::contact_email.eq(&plan.contact_email),
            plans::contact_url.eq(&plan.contact_url),
            plans::created_at.eq(now),
            plans::updated_at.eq(now),
        ))
        .execute(conn)?;
    let plan_id =
        super::plans::id_of_code(conn, &plan.code)?.ok_or_else(|| ApiError::Internal("plan vanished".into()))?;

    for correction in &dataset.normalisations {
        super::plans::add_correction(
            conn,
            plan_id,
            &super::plans::Correction {
                record: &correction.record,
                field: &correction.field,
                published: &correction.published,
                normalised: &correction.normalised,
                reason: &correction.reason,
            },
        )?;
    }

    let mut division_ids = HashMap::new();
    for department in &dataset.departments {
        let department_id = insert_coded!(
            conn,
            departments,
            plan_id,
            &department.code,
            (
                departments::plan_id.eq(plan_id),
                departments::code.eq(&department.code),
                departments::name.eq(&department.name),
                departments::created_at.eq(now),
                departments::updated_at.eq(now),
            )
        );
        for division in &department.divisions {
            let division_id = insert_coded!(
                conn,
                divisions,
                plan_id,
                &division.code,
                (
                    divisions::plan_id.eq(plan_id),
                    divisions::department_id.eq(department_id),
                    divisions::code.eq(&division.code),
                    divisions::name.eq(&division.name),
                    divisions::created_at.eq(now),
                    divisions::updated_at.eq(now),
                )
            );
            division_ids.insert(division.code.as_str(), division_id);
        }
    }

    let mut project_ids = HashMap::new();
    for project in &dataset.projects {
        let project_id = insert_coded!(
            conn,
            projects,
            plan_id,
            &project.code,
            (
                projects::plan_id.eq(plan_id),
                projects::code.eq(&project.code),
                projects::name.eq(&project.name),
                projects::account.eq(&project.account),
                projects::search_text.eq(searchable(&project.name)),
                projects::created_at.eq(now),
                projects::updated_at.eq(now),
            )
        );
        for (position, division_code) in project.divisions.iter().enumerate() {
            let division_id = *division_ids.get(division_code.as_str()).ok_or_else(|| {
                ApiError::Internal(format!(
                    "project {} names unknown division {division_code}",
                    project.code
                ))
            })?;
            diesel::insert_into(project_divisions::table)
                .values((
                    project_divisions::project_id.eq(project_id),
                    project_divisions::division_id.eq(division_id),
                    project_divisions::position.eq(position as i32 + 1),
                ))
                .execute(conn)?;
        }
        project_ids.insert(project.code.as_str(), project_id);
    }

    for goal in &dataset.goals {
        let goal_id = insert_coded!(
            conn,
            goals,
            plan_id,
            &goal.code,
            (
                goals::plan_id.eq(plan_id),
                goals::code.eq(&goal.code),
                goals::number.eq(goal.number),
                goals::category.eq(&goal.category),
                goals::title.eq(&goal.title),
                goals::created_at.eq(now),
                goals::updated_at.eq(now),
            )
        );
        for measure in &goal.measures {
            let measure_id = insert_coded!(
                conn,
                measures,
                plan_id,
                &measure.code,
                (
                    measures::plan_id.eq(plan_id),
                    measures::goal_id.eq(goal_id),
                    measures::code.eq(&measure.code),
                    measures::number.eq(measure.number),
                    measures::title.eq(&measure.title),
                    measures::created_at.eq(now),
                    measures::updated_at.eq(now),
                )
            );
            for initiative in &measure.initiatives {
                let initiative_id = insert_coded!(
                    conn,
                    initiatives,
                    plan_id,
                    &initiative.code,
                    (
                        initiatives::plan_id.eq(plan_id),
                        initiatives::measure_id.eq(measure_id),
                        initiatives::code.eq(&initiative.code),
                        initiatives::number.eq(initiative.number),
                        initiatives::title.eq(&initiative.title),
                        initiatives::created_at.eq(now),
                        initiatives::updated_at.eq(now),
                    )
                );
                for kpi in &initiative.kpis {
                    let baseline = kpi.baseline.value.as_deref();
                    let target = kpi.target.value.as_deref();
                    let search_text = searchable(&kpi.name);
                    let kpi_id = insert_coded!(
                        conn,
                        kpis,
                        plan_id,
                        &kpi.code,
                        (
                            kpis::plan_id.eq(plan_id),
                            kpis::initiative_id.eq(initiative_id),
                            kpis::code.eq(&kpi.code),
                            kpis::name.eq(&kpi.name),
                            kpis::unit.eq(&kpi.unit),
                            kpis::cumulative.eq(kpi.cumulative),
                            kpis::direction.eq(direction(baseline, target).as_str()),
                            kpis::baseline_value.eq(baseline),
                            kpis::baseline_year.eq(kpi.baseline.year),
                            kpis::baseline_year_type.eq(kpi.baseline.year_type.as_str()),
                            kpis::target_value.eq(target),
                            kpis::target_year.eq(kpi.target.year),
                            kpis::target_year_type.eq(kpi.target.year_type.as_str()),
                            kpis::search_text.eq(&search_text),
                            kpis::created_at.eq(now),
                            kpis::updated_at.eq(now),
                        )
                    );
                    super::kpis::index_search_text(conn, kpi_id, &search_text)?;
                }
                for (position, appearance) in initiative.projects.iter().enumerate() {
                    let project_id = *project_ids.get(appearance.project.as_str()).ok_or_else(|| {
                        ApiError::Internal(format!(
                            "initiative {} names unknown project {}",
                            initiative.code, appearance.project
                        ))
                    })?;
                    diesel::insert_into(project_appearances::table)
                        .values((
                            project_appearances::project_id.eq(project_id),
                            project_appearances::initiative_id.eq(initiative_id),
                            project_appearances::position.eq(position as i32 + 1),
                            project_appearances::description.eq(&appearance.description),
                            project_appearances::search_text.eq(searchable(&appearance.description)),
                        ))
                        .execute(conn)?;
                }
            }
        }
    }
    Ok(plan_id)
}

/// Seeds the dataset only into a database that holds no plan at all: the first start of a new
/// deployment. A database whose plans were edited or removed by staff is never re-seeded behind their back.
pub fn seed_if_empty(conn: &mut DbConnection, dataset: &Dataset) -> Result<Option<SeedOutcome>, ApiError> {
    let plans: i64 = plans::table.count().get_result(conn)?;
    if plans > 0 {
        return Ok(None);
    }
    seed(conn, dataset).map(Some)
}
