//! `/plans/{id}/export`: the whole plan in one nested JSON document, streamed goal by goal, and
//! `/plans/{id}/export.zip`: one CSV per table with a README describing the columns.

use std::collections::HashMap;

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
use crate::db::results::{self, ResultView};
use crate::db::{Database, DbConnection, Page};
use crate::error::{ApiError, ItemErrors};

/// Everything of one plan; `PlanExport` documents the streamed document's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanExport {
    pub plan: PlanDetail,
    pub departments: Vec<Department>,
    pub goals: Vec<GoalExport>,
    pub projects: Vec<Project>,
    /// The plan's frozen evaluations, oldest first.
    pub evaluations: Vec<super::evaluations::Evaluation>,
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
pub(crate) fn everything() -> Page {
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

pub(crate) fn goal_ids(conn: &mut DbConnection, plan: i64) -> Result<Vec<i64>, ApiError> {
    Ok(goal_store::list_goals(conn, &of_plan(plan), everything())?
        .items
        .into_iter()
        .map(|goal| goal.id)
        .collect())
}

pub(crate) fn departments(conn: &mut DbConnection, plan: i64) -> Result<Vec<Department>, ApiError> {
    let listing = department_store::list_departments(conn, &of_plan(plan), everything())?;
    Ok(listing.items.into_iter().map(Department::from).collect())
}

pub(crate) fn projects(conn: &mut DbConnection, plan: i64) -> Result<Vec<Project>, ApiError> {
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

/// One goal's tree with KPIs, results and project tables, the results (and targets) under a view:
/// a fixed number of queries.
pub(crate) fn goal_export(conn: &mut DbConnection, goal_id: i64, view: ResultView) -> Result<GoalExport, ApiError> {
    let (goal, measures, initiatives) = goal_store::goal_tree(conn, goal_id)?;
    let filter = KpiFilter {
        goal: Some(goal_id),
        ..Default::default()
    };
    let kpi_rows = kpi_store::all(conn, &filter)?;
    let rows_by_id: HashMap<i64, _> = kpi_rows.iter().map(|row| (row.id, row.clone())).collect();
    let kpi_ids: Vec<i64> = kpi_rows.iter().map(|row| row.id).collect();
    let mut results_by_kpi: HashMap<i64, Vec<KpiResult>> = HashMap::new();
    for row in results::of_kpis_under(conn, &kpi_ids, view)? {
        if let Some(kpi) = rows_by_id.get(&row.kpi_id) {
            results_by_kpi
                .entry(row.kpi_id)
                .or_default()
                .push(result_view(kpi, row));
        }
    }
    let mut kpis_by_initiative: HashMap<i64, Vec<KpiExport>> = HashMap::new();
    for kpi in results::facts_under(conn, kpi_rows, view)?.into_iter().map(Kpi::from) {
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

/// The whole plan in memory, as the streamed export writes it (for the command line).
pub fn plan_export(conn: &mut DbConnection, plan_id: i64) -> Result<PlanExport, ApiError> {
    let plan = PlanRecord::load(conn, plan_id)?;
    let goals = goal_ids(conn, plan_id)?
        .into_iter()
        .map(|goal| goal_export(conn, goal, ResultView::default()))
        .collect::<Result<_, _>>()?;
    Ok(PlanExport {
        plan,
        departments: departments(conn, plan_id)?,
        goals,
        projects: projects(conn, plan_id)?,
        evaluations: super::evaluations::of_plan(conn, plan_id)?,
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
    Evaluations,
    Done,
}

/// The whole plan as one nested JSON document: plan and departments, then one goal at a time
/// (measures → initiatives → KPIs with progress, target revisions and results, project tables),
/// then projects and evaluations. `POST /plans/import` takes it back as it is.
#[utoipa::path(
    operation_id = "exportPlan",
    tag = "plans",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1)),
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
                    let chunk = db
                        .run(move |conn| json(&goal_export(conn, goal, ResultView::default())?))
                        .await
                        .map(|body| {
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
                        .map(|body| [body, br#","evaluations":"#.to_vec()].concat());
                    (chunk, Step::Evaluations)
                }
                Step::Evaluations => {
                    let chunk = db
                        .run(move |conn| json(&super::evaluations::of_plan(conn, plan_id)?))
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
        "one row per listing of a project under an initiative, with its description, in the order of each initiative's project table",
    ),
    (
        "source_corrections.csv",
        "corrections of evident typos of the published document, each with the published form and the reason",
    ),
    (
        "kpi_target_revisions.csv",
        "revisions of KPI targets, oldest first per KPI: the previous and the new target, the reason, who and when",
    ),
    ("evaluations.csv", "frozen yearly evaluations"),
    (
        "evaluation_items.csv",
        "each KPI as an evaluation froze it; evaluation_id refers to evaluations.csv",
    ),
];

/// Where the rows of each file of `FILES` come from.
#[derive(Debug, Clone, Copy)]
enum Rows {
    Plan,
    Departments,
    Divisions,
    /// Rows taken from each goal's tree in turn: goals, measures, initiatives, KPIs, results.
    OfGoals(GoalPart),
    Projects,
    Corrections,
    Evaluations,
    EvaluationItems,
}

#[derive(Debug, Clone, Copy)]
enum GoalPart {
    Goal,
    Measures,
    Initiatives,
    Kpis,
    Results,
    Appearances,
    Revisions,
}

const SOURCES: [Rows; 14] = [
    Rows::Plan,
    Rows::Departments,
    Rows::Divisions,
    Rows::OfGoals(GoalPart::Goal),
    Rows::OfGoals(GoalPart::Measures),
    Rows::OfGoals(GoalPart::Initiatives),
    Rows::OfGoals(GoalPart::Kpis),
    Rows::OfGoals(GoalPart::Results),
    Rows::Projects,
    Rows::OfGoals(GoalPart::Appearances),
    Rows::Corrections,
    Rows::OfGoals(GoalPart::Revisions),
    Rows::Evaluations,
    Rows::EvaluationItems,
];

/// Projects per batch of the projects' files.
const PROJECT_BATCH: i64 = 100;

fn goal_rows(goal: &GoalExport, part: GoalPart) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut rows = Vec::new();
    if let GoalPart::Goal = part {
        rows.push(value(&goal.goal)?);
    }
    for measure in &goal.measures {
        if let GoalPart::Measures = part {
            rows.push(value(&measure.measure)?);
        }
        for initiative in &measure.initiatives {
            if let GoalPart::Initiatives = part {
                rows.push(value(&initiative.initiative)?);
            }
            if let GoalPart::Appearances = part {
                for listed in &initiative.project_appearances {
                    rows.push(serde_json::json!({
                        "project_id": listed.project_id, "project_code": listed.project_code, "project_name": listed.name,
                        "initiative_id": initiative.initiative.id, "initiative_code": initiative.initiative.code,
                        "description": listed.description,
                    }));
                }
            }
            for kpi in &initiative.kpis {
                match part {
                    GoalPart::Kpis => rows.push(value(&kpi.kpi)?),
                    GoalPart::Results => rows.extend(kpi.results.iter().map(value).collect::<Result<Vec<_>, _>>()?),
                    GoalPart::Revisions => {
                        for revision in &kpi.kpi.target_revisions {
                            rows.push(serde_json::json!({
                                "kpi_id": kpi.kpi.id, "kpi_code": kpi.kpi.code,
                                "previous_value_text": revision.previous.value_text, "previous_year": revision.previous.year,
                                "value_text": revision.target.value_text, "year": revision.target.year,
                                "year_type": revision.target.year_type, "reason": revision.reason,
                                "revised_by": revision.revised_by, "revised_at": revision.revised_at,
                            }));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(rows)
}

fn department_rows(conn: &mut DbConnection, plan: i64, divisions: bool) -> Result<Vec<serde_json::Value>, ApiError> {
    let departments = departments(conn, plan)?;
    if !divisions {
        return departments.iter().map(value).collect();
    }
    Ok(departments
        .iter()
        .flat_map(|department| {
            department.divisions.iter().map(move |division| {
                serde_json::json!({
                    "id": division.id, "code": division.code, "name": division.name,
                    "department_id": department.id, "department_code": department.code,
                    "department_name": department.name,
                })
            })
        })
        .collect())
}

/// The rows of one page of the plan's projects, or `None` past the last.
fn project_rows(conn: &mut DbConnection, plan: i64, index: usize) -> Result<Option<Vec<serde_json::Value>>, ApiError> {
    let filter = ProjectFilter {
        common: of_plan(plan),
        ..Default::default()
    };
    let page = Page {
        limit: PROJECT_BATCH,
        offset: PROJECT_BATCH * index as i64,
        sort: Vec::new(),
    };
    let projects: Vec<Project> = project_store::list(conn, &filter, page)?
        .items
        .into_iter()
        .map(Project::from)
        .collect();
    if projects.is_empty() && index > 0 {
        return Ok(None);
    }
    projects.iter().map(value).collect::<Result<_, _>>().map(Some)
}

/// The `index`-th batch of rows of a file, or `None` after the last one: one goal, or one page
/// of projects, at a time, so that no file is ever held whole.
fn batch(
    conn: &mut DbConnection,
    plan: i64,
    rows: Rows,
    index: usize,
) -> Result<Option<Vec<serde_json::Value>>, ApiError> {
    Ok(match rows {
        Rows::Plan
        | Rows::Departments
        | Rows::Divisions
        | Rows::Corrections
        | Rows::Evaluations
        | Rows::EvaluationItems
            if index > 0 =>
        {
            None
        }
        Rows::Plan => Some(vec![value(&PlanRecord::load(conn, plan)?)?]),
        Rows::Corrections => Some(
            PlanRecord::load(conn, plan)?
                .corrections
                .iter()
                .map(value)
                .collect::<Result<_, _>>()?,
        ),
        Rows::Evaluations => Some(
            super::evaluations::of_plan(conn, plan)?
                .iter()
                .map(|evaluation| value(&evaluation.summary))
                .collect::<Result<_, _>>()?,
        ),
        Rows::EvaluationItems => {
            let mut rows = Vec::new();
            for evaluation in super::evaluations::of_plan(conn, plan)? {
                for item in &evaluation.items {
                    let mut row = value(item)?;
                    row["evaluation_id"] = evaluation.summary.id.into();
                    rows.push(row);
                }
            }
            Some(rows)
        }
        Rows::Departments => Some(department_rows(conn, plan, false)?),
        Rows::Divisions => Some(department_rows(conn, plan, true)?),
        Rows::OfGoals(part) => match goal_ids(conn, plan)?.get(index) {
            Some(goal) => Some(goal_rows(&goal_export(conn, *goal, ResultView::default())?, part)?),
            None => None,
        },
        Rows::Projects => project_rows(conn, plan, index)?,
    })
}

/// Writes the zip into `sink` file by file, batch by batch, and the README last.
pub async fn write_zip(
    db: std::sync::Arc<Database>,
    plan: i64,
    code: String,
    sink: tokio::io::DuplexStream,
) -> Result<(), Box<dyn std::error::Error>> {
    use futures_util::AsyncWriteExt;
    let mut archive = async_zip::tokio::write::ZipFileWriter::with_tokio(sink);
    let mut readme = format!(
        "# {code}\n\nOne CSV file per table: UTF-8, CRLF line ends, RFC 4180 quoting, one header row of the API's \
         JSON field names (nested values as `baseline_value`, lists joined by `;`), Gregorian years.\n\n"
    );
    for ((file, about), rows) in FILES.iter().zip(SOURCES) {
        let entry = async_zip::ZipEntryBuilder::new((*file).into(), async_zip::Compression::Deflate);
        let mut writer = archive.write_entry_stream(entry).await?;
        let mut csv = CsvWriter::new(false);
        let mut header = None;
        let mut index = 0;
        while let Some(records) = db.run(move |conn| batch(conn, plan, rows, index)).await? {
            index += 1;
            // The header is the columns of the first rows: an empty batch must not set it.
            if records.is_empty() {
                continue;
            }
            let bytes = csv.batch(&records)?;
            header.get_or_insert_with(|| first_line(&bytes));
            writer.write_all(&bytes).await?;
        }
        if header.is_none() {
            let bytes = csv.batch(&[])?;
            header = Some(first_line(&bytes));
            writer.write_all(&bytes).await?;
        }
        writer.close().await?;
        let columns = header.unwrap_or_default().replace(',', ", ");
        readme.push_str(&format!("## {file}\n\n{about}.\n\nColumns: {columns}\n\n"));
    }
    let entry = async_zip::ZipEntryBuilder::new("README.md".into(), async_zip::Compression::Deflate);
    archive.write_entry_whole(entry, readme.as_bytes()).await?;
    let mut sink = archive.close().await?;
    tokio::io::AsyncWriteExt::shutdown(sink.get_mut()).await?;
    Ok(())
}

fn first_line(csv: &[u8]) -> String {
    String::from_utf8_lossy(csv.split(|byte| *byte == b'\r').next().unwrap_or_default()).to_string()
}

/// The bytes of a zip archive, as the document states a binary body.
pub struct ZipArchive;

impl utoipa::PartialSchema for ZipArchive {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for ZipArchive {}

/// The plan as a zip of CSV files (UTF-8, CRLF, one header row each) with a README.md, streamed.
#[utoipa::path(
    operation_id = "exportPlanZip",
    tag = "plans",
    params(("id" = i64, Path, description = "Plan id", example = 1, minimum = 1)),
    responses(
        (status = 200, description = "A zip of one CSV per table and a README", content_type = "application/zip", body = inline(ZipArchive)),
        ItemErrors,
    )
)]
#[get("/plans/{id}/export.zip")]
pub async fn export_zip(db: web::Data<Database>, plan: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let plan_id = plan.into_inner();
    let code = db
        .run(move |conn| Ok(PlanRecord::load(conn, plan_id)?.plan.code.clone()))
        .await?;
    let (sink, source) = tokio::io::duplex(64 * 1024);
    let db = db.into_inner();
    let name = code.clone();
    actix_web::rt::spawn(async move {
        // Once the response has started, a failure can only cut the archive short (it will not open).
        if let Err(error) = write_zip(db, plan_id, code, sink).await {
            log::error!("export.zip of plan {plan_id} stopped: {error}");
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.zip\""),
        ))
        .streaming(tokio_util::io::ReaderStream::new(source)))
}
