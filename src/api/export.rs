//! `/plans/{id}/export`: the whole plan in one nested JSON document, streamed goal by goal, and
//! `/plans/{id}/export.zip`: one CSV per table with a README describing the columns.

use std::collections::HashMap;
use std::io::Write;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use futures_util::StreamExt;

use super::csv_output::CsvWriter;
use super::departments::Department;
use super::goals::{Goal, Initiative, InitiativeProject, Measure};
use super::kpis::Kpi;
use super::plans::{PlanDetail, PlanRecord};
use super::projects::Project;
use super::records::Record;
use super::results::{view as result_view, KpiResult};
use crate::db::departments as department_store;
use crate::db::goals::{self as goal_store, CommonFilter};
use crate::db::kpis::{self as kpi_store, KpiFilter};
use crate::db::projects::{self as project_store, ProjectFilter};
use crate::db::{results, Database, DbConnection, Page};
use crate::error::{ApiError, ItemErrors};

/// Everything of one plan; `PlanExport` documents the streamed document's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanExport {
    pub plan: PlanDetail,
    pub departments: Vec<Department>,
    pub goals: Vec<GoalExport>,
    pub projects: Vec<Project>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalExport {
    #[serde(flatten)]
    pub goal: Goal,
    pub measures: Vec<MeasureExport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureExport {
    #[serde(flatten)]
    pub measure: Measure,
    pub initiatives: Vec<InitiativeExport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InitiativeExport {
    #[serde(flatten)]
    pub initiative: Initiative,
    pub kpis: Vec<KpiExport>,
    pub project_appearances: Vec<InitiativeProject>,
}

/// A KPI with its progress and every yearly result.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiExport {
    #[serde(flatten)]
    pub kpi: Kpi,
    pub results: Vec<KpiResult>,
}

/// Every record of a plan, however many: exports are not paged.
fn everything() -> Page {
    Page {
        limit: i64::from(i32::MAX),
        offset: 0,
        sort: Vec::new(),
    }
}

fn of_plan(plan: i64) -> CommonFilter {
    CommonFilter {
        plan: Some(plan),
        code: None,
    }
}

fn goal_ids(conn: &mut DbConnection, plan: i64) -> Result<Vec<i64>, ApiError> {
    Ok(goal_store::list_goals(conn, &of_plan(plan), everything())?
        .items
        .into_iter()
        .map(|goal| goal.id)
        .collect())
}

fn departments(conn: &mut DbConnection, plan: i64) -> Result<Vec<Department>, ApiError> {
    let listing = department_store::list_departments(conn, &of_plan(plan), everything())?;
    Ok(listing.items.into_iter().map(Department::from).collect())
}

fn projects(conn: &mut DbConnection, plan: i64) -> Result<Vec<Project>, ApiError> {
    let filter = ProjectFilter {
        common: of_plan(plan),
        ..Default::default()
    };
    Ok(project_store::list(conn, &filter, everything())?
        .items
        .into_iter()
        .map(Project::from)
        .collect())
}

/// One goal's tree with KPIs, results and project tables: a fixed number of queries.
fn goal_export(conn: &mut DbConnection, goal_id: i64) -> Result<GoalExport, ApiError> {
    let (goal, measures, initiatives) = goal_store::goal_tree(conn, goal_id)?;
    let filter = KpiFilter {
        goal: Some(goal_id),
        ..Default::default()
    };
    let kpi_rows = kpi_store::all(conn, &filter)?;
    let rows_by_id: HashMap<i64, _> = kpi_rows.iter().map(|row| (row.id, row.clone())).collect();
    let kpi_ids: Vec<i64> = kpi_rows.iter().map(|row| row.id).collect();
    let mut results_by_kpi: HashMap<i64, Vec<KpiResult>> = HashMap::new();
    for row in results::of_kpis(conn, &kpi_ids)? {
        if let Some(kpi) = rows_by_id.get(&row.kpi_id) {
            results_by_kpi
                .entry(row.kpi_id)
                .or_default()
                .push(result_view(kpi, row));
        }
    }
    let mut kpis_by_initiative: HashMap<i64, Vec<KpiExport>> = HashMap::new();
    for kpi in results::facts(conn, kpi_rows)?.into_iter().map(Kpi::from) {
        let results = results_by_kpi.remove(&kpi.id).unwrap_or_default();
        kpis_by_initiative
            .entry(kpi.initiative_id)
            .or_default()
            .push(KpiExport { kpi, results });
    }
    let initiative_ids: Vec<i64> = initiatives.iter().map(|initiative| initiative.id).collect();
    let mut projects_by_initiative: HashMap<i64, Vec<InitiativeProject>> = HashMap::new();
    for (initiative, row) in project_store::in_initiatives(conn, &initiative_ids)? {
        projects_by_initiative.entry(initiative).or_default().push(row.into());
    }
    let measures = measures
        .into_iter()
        .map(|measure| MeasureExport {
            initiatives: initiatives
                .iter()
                .filter(|initiative| initiative.measure_id == measure.id)
                .map(|initiative| InitiativeExport {
                    kpis: kpis_by_initiative.remove(&initiative.id).unwrap_or_default(),
                    project_appearances: projects_by_initiative.remove(&initiative.id).unwrap_or_default(),
                    initiative: initiative.clone().into(),
                })
                .collect(),
            measure: measure.into(),
        })
        .collect();
    Ok(GoalExport {
        goal: goal.into(),
        measures,
    })
}

fn value<T: Serialize>(item: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(item).map_err(|error| ApiError::Internal(error.to_string()))
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|error| ApiError::Internal(error.to_string()))
}

/// What is sent next while streaming the export.
enum Step {
    Goal(usize),
    Projects,
    Done,
}

/// The whole plan as one nested JSON document: plan and departments, then one goal at a time
/// (measures → initiatives → KPIs with progress and results, project tables), then projects.
#[utoipa::path(
    tag = "plans",
    params(("id" = i64, Path, description = "Plan id", example = 1)),
    responses((status = 200, description = "The whole plan, streamed", body = PlanExport), ItemErrors)
)]
#[get("/plans/{id}/export")]
pub async fn export_json(db: web::Data<Database>, plan: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let plan_id = plan.into_inner();
    let (head, goals) = db
        .run(move |conn| {
            let plan = PlanRecord::load(conn, plan_id)?;
            let mut head = br#"{"plan":"#.to_vec();
            head.extend(json(&plan)?);
            head.extend(br#","departments":"#);
            head.extend(json(&departments(conn, plan_id)?)?);
            head.extend(br#","goals":["#);
            Ok((head, goal_ids(conn, plan_id)?))
        })
        .await?;
    let db = db.into_inner();
    let rest = futures_util::stream::unfold(Step::Goal(0), move |step| {
        let (db, goals) = (db.clone(), goals.clone());
        async move {
            let (chunk, next) = match step {
                Step::Done => return None,
                Step::Goal(index) if index < goals.len() => {
                    let goal = goals[index];
                    let chunk = db.run(move |conn| json(&goal_export(conn, goal)?)).await.map(|body| {
                        if index == 0 {
                            body
                        } else {
                            [b",".to_vec(), body].concat()
                        }
                    });
                    (chunk, Step::Goal(index + 1))
                }
                Step::Goal(_) => (Ok(br#"],"projects":"#.to_vec()), Step::Projects),
                Step::Projects => {
                    let chunk = db
                        .run(move |conn| json(&projects(conn, plan_id)?))
                        .await
                        .map(|mut body| {
                            body.push(b'}');
                            body
                        });
                    (chunk, Step::Done)
                }
            };
            let next = if chunk.is_err() { Step::Done } else { next };
            Some((chunk.map(web::Bytes::from).map_err(actix_web::Error::from), next))
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(web::Bytes::from(head)) }).chain(rest);
    Ok(HttpResponse::Ok().content_type("application/json").streaming(body))
}

/// What each file of the zip holds, for its README.
const FILES: &[(&str, &str)] = &[
    (
        "plan.csv",
        "the plan: name, municipality codes, period, publisher, licence, corrections of the source",
    ),
    (
        "departments.csv",
        "departments (部), with their divisions joined by `;`",
    ),
    ("divisions.csv", "divisions (課), each with its department"),
    ("goals.csv", "basic goals (基本目標)"),
    ("measures.csv", "measures (具体的な施策); goal_id refers to goals.csv"),
    (
        "initiatives.csv",
        "initiatives (主な取組); measure_id refers to measures.csv",
    ),
    (
        "kpis.csv",
        "KPIs with baseline, target and progress; initiative_id refers to initiatives.csv",
    ),
    ("kpi_results.csv", "yearly results (実績値); kpi_id refers to kpis.csv"),
    (
        "projects.csv",
        "projects (事業) with divisions and appearances joined by `;`",
    ),
    (
        "project_appearances.csv",
        "one row per listing of a project under an initiative, with its description",
    ),
];

/// The records of each file of `FILES`, in its order, as JSON values to flatten into CSV.
fn tables(
    plan: &PlanDetail,
    departments: &[Department],
    goals: &[GoalExport],
    projects: &[Project],
) -> Result<Vec<(&'static str, Vec<serde_json::Value>)>, ApiError> {
    let mut divisions = Vec::new();
    for department in departments {
        for division in &department.divisions {
            divisions.push(serde_json::json!({
                "id": division.id, "code": division.code, "name": division.name,
                "department_id": department.id, "department_code": department.code, "department_name": department.name,
            }));
        }
    }
    let (mut goal_rows, mut measure_rows, mut initiative_rows, mut kpi_rows, mut result_rows) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for goal in goals {
        goal_rows.push(value(&goal.goal)?);
        for measure in &goal.measures {
            measure_rows.push(value(&measure.measure)?);
            for initiative in &measure.initiatives {
                initiative_rows.push(value(&initiative.initiative)?);
                for kpi in &initiative.kpis {
                    kpi_rows.push(value(&kpi.kpi)?);
                    for result in &kpi.results {
                        result_rows.push(value(result)?);
                    }
                }
            }
        }
    }
    let mut appearances = Vec::new();
    for project in projects {
        for appearance in &project.appearances {
            appearances.push(serde_json::json!({
                "project_id": project.id, "project_code": project.code, "project_name": project.name,
                "initiative_id": appearance.initiative_id, "initiative_code": appearance.initiative_code,
                "description": appearance.description,
            }));
        }
    }
    Ok(vec![
        ("plan.csv", vec![value(plan)?]),
        (
            "departments.csv",
            departments.iter().map(value).collect::<Result<_, _>>()?,
        ),
        ("divisions.csv", divisions),
        ("goals.csv", goal_rows),
        ("measures.csv", measure_rows),
        ("initiatives.csv", initiative_rows),
        ("kpis.csv", kpi_rows),
        ("kpi_results.csv", result_rows),
        ("projects.csv", projects.iter().map(value).collect::<Result<_, _>>()?),
        ("project_appearances.csv", appearances),
    ])
}

/// The plan as a zip of CSV files (UTF-8, CRLF, one header row each) with a README.md.
#[utoipa::path(
    tag = "plans",
    params(("id" = i64, Path, description = "Plan id", example = 1)),
    responses(
        (status = 200, description = "A zip of one CSV per table and a README", content_type = "application/zip", body = Vec<u8>),
        ItemErrors,
    )
)]
#[get("/plans/{id}/export.zip")]
pub async fn export_zip(db: web::Data<Database>, plan: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let plan_id = plan.into_inner();
    let (code, tables) = db
        .run(move |conn| {
            let plan = PlanRecord::load(conn, plan_id)?;
            let goals: Vec<GoalExport> = goal_ids(conn, plan_id)?
                .into_iter()
                .map(|goal| goal_export(conn, goal))
                .collect::<Result<_, _>>()?;
            let departments = departments(conn, plan_id)?;
            let projects = projects(conn, plan_id)?;
            Ok((plan.plan.code.clone(), tables(&plan, &departments, &goals, &projects)?))
        })
        .await?;
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let failed = |error: &dyn std::fmt::Display| ApiError::Internal(format!("zip: {error}"));
    let mut readme = format!(
        "# {code}\n\nOne CSV file per table: UTF-8, CRLF line ends, RFC 4180 quoting, one header row of the API's \
         JSON field names (nested values as `baseline_value`, lists joined by `;`), Gregorian years.\n\n"
    );
    for ((file, records), (_, about)) in tables.iter().zip(FILES) {
        let body = CsvWriter::new(false).batch(records).map_err(|error| failed(&error))?;
        let header = String::from_utf8_lossy(body.split(|byte| *byte == b'\r').next().unwrap_or_default()).to_string();
        readme.push_str(&format!(
            "## {file}\n\n{about}.\n\nColumns: {}\n\n",
            header.replace(',', ", ")
        ));
        archive.start_file(*file, options).map_err(|error| failed(&error))?;
        archive.write_all(&body).map_err(|error| failed(&error))?;
    }
    archive
        .start_file("README.md", options)
        .map_err(|error| failed(&error))?;
    archive.write_all(readme.as_bytes()).map_err(|error| failed(&error))?;
    let bytes = archive.finish().map_err(|error| failed(&error))?.into_inner();
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{code}.zip\""),
        ))
        .body(bytes))
}
