//! `/plans/{id}/export`: the whole plan in one nested JSON document, streamed goal by goal, and
//! `/plans/{id}/export.zip`: one CSV per table with a README describing the columns.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use futures_util::StreamExt;

use super::csv_output::CsvWriter;
use super::departments::{Department, Division};
use super::goals::{Goal, Initiative, InitiativeProject, Measure};
use super::kpis::Kpi;
use super::plans::{PlanDetail, PlanRecord};
use super::projects::Project;
use super::query::QueryParams;
use super::records::Record;
use super::results::{view as result_view, KpiResult};
use crate::data_package::{descriptor, PackageFacts, Table, Written, TABLES};
use crate::db::departments::{self as department_store, DivisionFilter};
use crate::db::goals::{self as goal_store, CommonFilter};
use crate::db::kpis::{self as kpi_store, KpiFilter};
use crate::db::projects::{self as project_store, ProjectFilter};
use crate::db::results::{self, ResultView};
use crate::db::{Database, DbConnection, Page};
use crate::error::{ApiError, ItemErrors};
use sha2::{Digest, Sha256};

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

/// Where the rows of each file of the zip come from.
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

/// The rows of each table of `data_package::TABLES`, by its name.
const SOURCES: [(&str, Rows); 14] = [
    ("plan", Rows::Plan),
    ("departments", Rows::Departments),
    ("divisions", Rows::Divisions),
    ("goals", Rows::OfGoals(GoalPart::Goal)),
    ("measures", Rows::OfGoals(GoalPart::Measures)),
    ("initiatives", Rows::OfGoals(GoalPart::Initiatives)),
    ("kpis", Rows::OfGoals(GoalPart::Kpis)),
    ("kpi_results", Rows::OfGoals(GoalPart::Results)),
    ("projects", Rows::Projects),
    ("project_appearances", Rows::OfGoals(GoalPart::Appearances)),
    ("source_corrections", Rows::Corrections),
    ("kpi_target_revisions", Rows::OfGoals(GoalPart::Revisions)),
    ("evaluations", Rows::Evaluations),
    ("evaluation_items", Rows::EvaluationItems),
];

fn rows_of(table: &Table) -> Rows {
    SOURCES
        .iter()
        .find(|(name, _)| *name == table.name)
        .map(|(_, rows)| *rows)
        .unwrap_or_else(|| unreachable!("every table has its rows: {}", table.name))
}

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

fn department_rows(conn: &mut DbConnection, plan: i64) -> Result<Vec<serde_json::Value>, ApiError> {
    departments(conn, plan)?.iter().map(value).collect()
}

/// The plan's divisions as `/api/v1/divisions` lists them, so that both CSVs share one schema.
fn division_rows(conn: &mut DbConnection, plan: i64) -> Result<Vec<serde_json::Value>, ApiError> {
    let filter = DivisionFilter {
        common: of_plan(plan),
        ..Default::default()
    };
    department_store::list_divisions(conn, &filter, everything())?
        .items
        .into_iter()
        .map(|row| value(&Division::from(row)))
        .collect()
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
        Rows::Departments => Some(department_rows(conn, plan)?),
        Rows::Divisions => Some(division_rows(conn, plan)?),
        Rows::OfGoals(part) => match goal_ids(conn, plan)?.get(index) {
            Some(goal) => Some(goal_rows(&goal_export(conn, *goal, ResultView::default())?, part)?),
            None => None,
        },
        Rows::Projects => project_rows(conn, plan, index)?,
    })
}

/// Writes the zip into `sink` file by file, batch by batch, then its `datapackage.json` (with each
/// file's size and hash, learnt while writing it) and the README.
pub async fn write_zip(
    db: std::sync::Arc<Database>,
    plan: i64,
    sink: tokio::io::DuplexStream,
) -> Result<(), Box<dyn std::error::Error>> {
    use futures_util::AsyncWriteExt;
    let mut archive = async_zip::tokio::write::ZipFileWriter::with_tokio(sink);
    let mut written = Vec::new();
    for table in TABLES {
        let rows = rows_of(table);
        let entry = async_zip::ZipEntryBuilder::new(table.file().into(), async_zip::Compression::Deflate);
        let mut writer = archive.write_entry_stream(entry).await?;
        let mut csv = CsvWriter::with_columns(table.columns());
        let mut digest = Sha256::new();
        let mut bytes = csv.batch(&[])?;
        let mut size = 0u64;
        let mut index = 0;
        loop {
            digest.update(&bytes);
            size += bytes.len() as u64;
            writer.write_all(&bytes).await?;
            match db.run(move |conn| batch(conn, plan, rows, index)).await? {
                Some(records) => bytes = csv.batch(&records)?,
                None => break,
            }
            index += 1;
        }
        writer.close().await?;
        written.push(Written {
            table,
            bytes: size,
            sha256: digest.finalize().iter().map(|byte| format!("{byte:02x}")).collect(),
        });
    }
    let (plan_row, data_version) = db
        .run(move |conn| {
            Ok((
                PlanRecord::load(conn, plan)?.plan,
                crate::db::write::latest_change(conn)?,
            ))
        })
        .await?;
    let facts = PackageFacts {
        code: &plan_row.code,
        title: &plan_row.name,
        publisher: plan_row.publisher.as_deref(),
        licence: plan_row.licence.as_deref(),
        licence_url: plan_row.licence_url.as_deref(),
        source_url: plan_row.source_url.as_deref(),
        data_version,
    };
    let package = serde_json::to_vec_pretty(&descriptor(&facts, &written))?;
    let entry = async_zip::ZipEntryBuilder::new("datapackage.json".into(), async_zip::Compression::Deflate);
    archive.write_entry_whole(entry, &package).await?;
    let entry = async_zip::ZipEntryBuilder::new("README.md".into(), async_zip::Compression::Deflate);
    archive
        .write_entry_whole(entry, readme(&plan_row.code).as_bytes())
        .await?;
    let mut sink = archive.close().await?;
    tokio::io::AsyncWriteExt::shutdown(sink.get_mut()).await?;
    Ok(())
}

/// The zip's README: what each file holds and its columns.
fn readme(code: &str) -> String {
    let mut readme = format!(
        "# {code}\n\nOne CSV file per table: UTF-8, CRLF line ends, RFC 4180 quoting, one header row of the API's \
         JSON field names (nested values as `baseline_value`, lists joined by `;`), Gregorian years. \
         `datapackage.json` describes every file as a Frictionless Data Package (v2): column types, required \
         and unique columns, primary and foreign keys, sizes and SHA-256 hashes; \
         `frictionless validate datapackage.json` checks a download.\n\n"
    );
    for table in TABLES {
        readme.push_str(&format!(
            "## {}\n\n{}.\n\nColumns: {}\n\n",
            table.file(),
            table.description,
            table.columns().join(", ")
        ));
    }
    readme
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
    let name = db
        .run(move |conn| Ok(PlanRecord::load(conn, plan_id)?.plan.code.clone()))
        .await?;
    let (sink, source) = tokio::io::duplex(64 * 1024);
    let db = db.into_inner();
    actix_web::rt::spawn(async move {
        // Once the response has started, a failure can only cut the archive short (it will not open).
        if let Err(error) = write_zip(db, plan_id, sink).await {
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

/// The table of a schema's path.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TablePath {
    /// The table, as the zip names its file without `.csv`: plan, departments, divisions, goals,
    /// measures, initiatives, kpis, kpi_results, projects, project_appearances, source_corrections,
    /// kpi_target_revisions, evaluations, evaluation_items.
    #[param(example = "kpis", pattern = "^[a-z_]{1,40}$")]
    pub table: String,
}

/// The Frictionless Table Schema of one file of `export.zip`: its columns with their types,
/// required and unique columns, primary and foreign keys (its `datapackage.json` holds the same).
#[utoipa::path(
    operation_id = "getTableSchema",
    tag = "plans",
    params(TablePath),
    responses(
        (status = 200, description = "The Table Schema", content_type = "application/json", body = Object),
        ItemErrors,
    )
)]
#[get("/schemas/{table}.json")]
pub async fn table_schema(request: HttpRequest, path: web::Path<TablePath>) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(request.query_string())?.finish()?;
    let name = path.into_inner().table;
    let table = crate::data_package::table(&name).ok_or_else(|| ApiError::not_found("table schema", &name))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json(&table.schema())?))
}
