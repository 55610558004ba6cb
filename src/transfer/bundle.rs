//! The export.zip of CSVs read back as a plan document, so that `POST /plans/import` takes either.
//! Each record is made from its CSV row, and a failure in it is named by file, row and column.
//!
//! The zip holds everything the JSON document does: the plan with its corrections, departments
//! and divisions, goals, measures, initiatives, KPIs with their results and target revisions,
//! projects with their divisions and appearances (each initiative's table in its order), and
//! evaluations with their items.

use std::collections::HashMap;
use std::io::Read;

use serde_json::{json, Map, Value};

use crate::error::ApiError;

/// A CSV row: its cells by column name.
type Row = HashMap<String, String>;

/// A zip's CSV files, by name: each file's rows with their line numbers.
struct Files(HashMap<String, Vec<(usize, Row)>>);

impl Files {
    fn read(body: &[u8]) -> Result<Self, ApiError> {
        let unreadable =
            |error: zip::result::ZipError| ApiError::refused_field("body", format!("is not a readable zip: {error}"));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body)).map_err(unreadable)?;
        let mut files = HashMap::new();
        // A plan's CSVs are a few MB in all; a zip that inflates to more is refused as it is read.
        let mut left = super::MAX_INFLATED_BYTES;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(unreadable)?;
            let name = entry.name().map_err(unreadable)?.to_string();
            if !name.ends_with(".csv") {
                continue;
            }
            let mut text = String::new();
            entry
                .by_ref()
                .take(left + 1)
                .read_to_string(&mut text)
                .map_err(|error| ApiError::refused_field(name.clone(), format!("is not UTF-8 CSV: {error}")))?;
            left = left.checked_sub(text.len() as u64).ok_or_else(|| {
                ApiError::refused_field(
                    "body",
                    format!("inflates to more than {} MiB of CSV", super::MAX_INFLATED_BYTES >> 20),
                )
            })?;
            let mut reader = csv::ReaderBuilder::new().from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            let header: Vec<String> = reader
                .headers()
                .map_err(|error| ApiError::refused_field(name.clone(), error.to_string()))?
                .iter()
                .map(str::to_string)
                .collect();
            let mut rows = Vec::new();
            for (index, record) in reader.records().enumerate() {
                let record = record
                    .map_err(|error| ApiError::refused_field(format!("{name} row {}", index + 2), error.to_string()))?;
                rows.push((
                    index + 2,
                    header.iter().cloned().zip(record.iter().map(str::to_string)).collect(),
                ));
            }
            files.insert(name, rows);
        }
        for required in ["plan.csv", "goals.csv", "kpis.csv"] {
            if !files.contains_key(required) {
                return Err(ApiError::refused_field(
                    required,
                    "is missing from the zip: send the export.zip as it was written",
                ));
            }
        }
        Ok(Files(files))
    }

    fn rows(&self, file: &str) -> &[(usize, Row)] {
        self.0.get(file).map_or(&[], Vec::as_slice)
    }
}

/// A cell that links rows (an id, a code), blank where the file has no such column.
fn key<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).map_or("", String::as_str)
}

/// A cell as JSON: null when blank, a number where the document wants one.
fn cell(row: &Row, column: &str, number: bool) -> Value {
    match row.get(column).map(String::as_str) {
        None | Some("") => Value::Null,
        Some(text) if number => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Some("true") if column == "cumulative" => Value::Bool(true),
        Some("false") if column == "cumulative" => Value::Bool(false),
        Some(text) => Value::String(text.to_string()),
    }
}

fn record(row: &Row, text: &[&str], numbers: &[&str]) -> Map<String, Value> {
    let mut record = Map::new();
    for column in text {
        record.insert((*column).to_string(), cell(row, column, false));
    }
    for column in numbers {
        record.insert((*column).to_string(), cell(row, column, true));
    }
    record
}

/// Rates (achievement, expected) as JSON numbers.
fn with_reals(mut record: Map<String, Value>, row: &Row, reals: &[&str]) -> Map<String, Value> {
    for column in reals {
        let value = match row.get(*column).map(String::as_str) {
            None | Some("") => Value::Null,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.to_string()), Value::Number),
        };
        record.insert((*column).to_string(), value);
    }
    record
}

fn measurement(row: &Row, prefix: &str) -> Value {
    json!({
        "value_text": cell(row, &format!("{prefix}_value_text"), false),
        "year": cell(row, &format!("{prefix}_year"), true),
        "year_type": cell(row, &format!("{prefix}_year_type"), false),
    })
}

fn list(row: &Row, column: &str) -> Vec<String> {
    row.get(column)
        .filter(|text| !text.is_empty())
        .map(|text| text.split(';').map(str::to_string).collect())
        .unwrap_or_default()
}

/// The plan document the zip describes, and where each of its records came from (JSON Pointer →
/// file and row), to name failures by the file's row and column.
pub struct Bundle {
    pub document: Vec<u8>,
    places: Vec<(String, String, usize)>,
}

impl Bundle {
    pub fn read(body: &[u8]) -> Result<Self, ApiError> {
        let files = Files::read(body)?;
        let mut places = Vec::new();
        let mut place = |pointer: String, file: &str, row: usize| places.push((pointer, file.to_string(), row));
        let (plan_line, plan_row) = files
            .rows("plan.csv")
            .first()
            .ok_or_else(|| ApiError::refused_field("plan.csv", "has no row"))?;
        let mut plan = record(
            plan_row,
            &[
                "code",
                "name",
                "document_title",
                "municipality_code",
                "municipality_name",
                "prefecture",
                "publisher",
                "source_url",
                "published_on",
                "licence",
                "licence_url",
                "description",
                "contact_name",
                "contact_email",
                "contact_url",
            ],
            &["period_start_year", "period_end_year"],
        );
        let keywords = list(plan_row, "keywords");
        if !keywords.is_empty() {
            plan.insert("keywords".into(), keywords.into());
        }
        let grades = list(plan_row, "grading_scheme_grade");
        let minimums = list(plan_row, "grading_scheme_min");
        if !grades.is_empty() {
            let steps: Vec<Value> = grades
                .iter()
                .zip(minimums.iter().chain(std::iter::repeat(&String::new())))
                .map(|(grade, min)| json!({"grade": grade, "min": min.parse::<f64>().ok()}))
                .collect();
            plan.insert("grading_scheme".into(), Value::Array(steps));
        }
        place("/plan".into(), "plan.csv", *plan_line);
        let mut corrections = Vec::new();
        for (index, (line, row)) in files.rows("source_corrections.csv").iter().enumerate() {
            place(format!("/plan/corrections/{index}"), "source_corrections.csv", *line);
            corrections.push(Value::Object(record(
                row,
                &["record", "field", "published", "normalised", "reason"],
                &[],
            )));
        }
        plan.insert("corrections".into(), Value::Array(corrections));

        let mut departments = Vec::new();
        for (d, (line, row)) in files.rows("departments.csv").iter().enumerate() {
            let at = format!("/departments/{d}");
            place(at.clone(), "departments.csv", *line);
            let mut department = record(row, &["code", "name"], &[]);
            let code = row.get("code").map(String::as_str);
            let of_department = files
                .rows("divisions.csv")
                .iter()
                .filter(|(_, division)| division.get("department_code").map(String::as_str) == code);
            let mut divisions = Vec::new();
            for (index, (line, division)) in of_department.enumerate() {
                place(format!("{at}/divisions/{index}"), "divisions.csv", *line);
                divisions.push(Value::Object(record(division, &["code", "name"], &[])));
            }
            department.insert("divisions".into(), Value::Array(divisions));
            departments.push(Value::Object(department));
        }

        // Children by their parent's id in the zip.
        let children = |file: &str, parent: &str| -> HashMap<String, Vec<(usize, &Row)>> {
            let mut by_parent: HashMap<String, Vec<(usize, &Row)>> = HashMap::new();
            for (line, row) in files.rows(file) {
                by_parent
                    .entry(row.get(parent).cloned().unwrap_or_default())
                    .or_default()
                    .push((*line, row));
            }
            by_parent
        };
        let measures = children("measures.csv", "goal_id");
        let initiatives = children("initiatives.csv", "measure_id");
        let kpis = children("kpis.csv", "initiative_id");
        let results = children("kpi_results.csv", "kpi_id");
        let revisions = children("kpi_target_revisions.csv", "kpi_id");
        let tables = children("project_appearances.csv", "initiative_code");
        let mut goals = Vec::new();
        for (g, (line, row)) in files.rows("goals.csv").iter().enumerate() {
            let at = format!("/goals/{g}");
            place(at.clone(), "goals.csv", *line);
            let mut goal = record(row, &["code", "category", "title"], &["number"]);
            let mut measure_list = Vec::new();
            for (m, (line, row)) in measures.get(key(row, "id")).into_iter().flatten().enumerate() {
                let at = format!("{at}/measures/{m}");
                place(at.clone(), "measures.csv", *line);
                let mut measure = record(row, &["code", "title"], &["number"]);
                let mut initiative_list = Vec::new();
                for (i, (line, row)) in initiatives.get(key(row, "id")).into_iter().flatten().enumerate() {
                    let at = format!("{at}/initiatives/{i}");
                    place(at.clone(), "initiatives.csv", *line);
                    let mut initiative = record(row, &["code", "title"], &["number"]);
                    let mut kpi_list = Vec::new();
                    for (k, (line, row)) in kpis.get(key(row, "id")).into_iter().flatten().enumerate() {
                        let at = format!("{at}/kpis/{k}");
                        place(at.clone(), "kpis.csv", *line);
                        let mut kpi = record(row, &["code", "name", "unit", "cumulative", "direction", "source"], &[]);
                        kpi.insert("baseline".into(), measurement(row, "baseline"));
                        kpi.insert("target".into(), measurement(row, "target"));
                        let mut result_list = Vec::new();
                        for (r, (line, row)) in results.get(key(row, "id")).into_iter().flatten().enumerate() {
                            place(format!("{at}/results/{r}"), "kpi_results.csv", *line);
                            result_list.push(Value::Object(record(
                                row,
                                &["value_text", "status", "note", "source", "analysis", "next_steps"],
                                &["year"],
                            )));
                        }
                        kpi.insert("results".into(), Value::Array(result_list));
                        let mut revision_list = Vec::new();
                        for (r, (line, row)) in revisions.get(key(row, "id")).into_iter().flatten().enumerate() {
                            place(format!("{at}/target_revisions/{r}"), "kpi_target_revisions.csv", *line);
                            let measurement = |value: &str, year: &str| json!({"value_text": cell(row, value, false), "year": cell(row, year, true), "year_type": cell(row, "year_type", false)});
                            let mut revision = record(row, &["reason", "revised_by", "revised_at"], &[]);
                            revision.insert("previous".into(), measurement("previous_value_text", "previous_year"));
                            revision.insert("target".into(), measurement("value_text", "year"));
                            revision_list.push(Value::Object(revision));
                        }
                        kpi.insert("target_revisions".into(), Value::Array(revision_list));
                        kpi_list.push(Value::Object(kpi));
                    }
                    initiative.insert("kpis".into(), Value::Array(kpi_list));
                    // The initiative's project table, in its order.
                    let table: Vec<Value> = tables
                        .get(row.get("code").map_or("", String::as_str))
                        .into_iter()
                        .flatten()
                        .map(|(_, listed)| json!({"project_code": cell(listed, "project_code", false)}))
                        .collect();
                    initiative.insert("project_appearances".into(), Value::Array(table));
                    initiative_list.push(Value::Object(initiative));
                }
                measure.insert("initiatives".into(), Value::Array(initiative_list));
                measure_list.push(Value::Object(measure));
            }
            goal.insert("measures".into(), Value::Array(measure_list));
            goals.push(Value::Object(goal));
        }

        let appearances = children("project_appearances.csv", "project_code");
        let mut projects = Vec::new();
        for (p, (line, row)) in files.rows("projects.csv").iter().enumerate() {
            let at = format!("/projects/{p}");
            place(at.clone(), "projects.csv", *line);
            let mut project = record(row, &["code", "name", "account"], &[]);
            let divisions: Vec<Value> = list(row, "divisions_code")
                .into_iter()
                .map(|code| json!({"code": code}))
                .collect();
            project.insert("divisions".into(), Value::Array(divisions));
            let mut listed = Vec::new();
            for (a, (line, row)) in appearances.get(key(row, "code")).into_iter().flatten().enumerate() {
                place(format!("{at}/appearances/{a}"), "project_appearances.csv", *line);
                listed.push(Value::Object(record(row, &["initiative_code", "description"], &[])));
            }
            project.insert("appearances".into(), Value::Array(listed));
            projects.push(Value::Object(project));
        }
        let items = children("evaluation_items.csv", "evaluation_id");
        let mut evaluations = Vec::new();
        for (e, (line, row)) in files.rows("evaluations.csv").iter().enumerate() {
            let at = format!("/evaluations/{e}");
            place(at.clone(), "evaluations.csv", *line);
            let mut evaluation = record(row, &["title", "created_by", "created_at"], &["fiscal_year"]);
            let mut item_list = Vec::new();
            for (i, (line, row)) in items.get(key(row, "id")).into_iter().flatten().enumerate() {
                place(format!("{at}/items/{i}"), "evaluation_items.csv", *line);
                let item = record(
                    row,
                    &[
                        "kpi_code",
                        "kpi_name",
                        "unit",
                        "direction",
                        "baseline_value",
                        "target_value",
                        "original_target_value",
                        "result_value",
                        "status",
                        "grade",
                    ],
                    &["target_year", "original_target_year", "result_year"],
                );
                item_list.push(Value::Object(with_reals(
                    item,
                    row,
                    &["achievement", "expected", "original_achievement"],
                )));
            }
            evaluation.insert("items".into(), Value::Array(item_list));
            evaluations.push(Value::Object(evaluation));
        }
        let document = json!({
            "plan": Value::Object(plan),
            "departments": departments,
            "goals": goals,
            "projects": projects,
            "evaluations": evaluations,
        });
        // A row whose parent matches no row would be left out without a word: it is refused instead.
        let placed: std::collections::HashSet<(&str, usize)> =
            places.iter().map(|(_, file, line)| (file.as_str(), *line)).collect();
        let mut orphans = Vec::new();
        for (file, parent) in [
            ("divisions.csv", "department_code"),
            ("measures.csv", "goal_id"),
            ("initiatives.csv", "measure_id"),
            ("kpis.csv", "initiative_id"),
            ("kpi_results.csv", "kpi_id"),
            ("kpi_target_revisions.csv", "kpi_id"),
            ("project_appearances.csv", "project_code"),
            ("evaluation_items.csv", "evaluation_id"),
            ("plan.csv", "code"),
        ] {
            for (line, _) in files
                .rows(file)
                .iter()
                .filter(|(line, _)| !placed.contains(&(file, *line)))
            {
                let message = if file == "plan.csv" {
                    "is a second plan: a zip holds one".to_string()
                } else {
                    format!("its {parent} matches no row of the file it refers to")
                };
                orphans.push(crate::error::FieldError {
                    field: format!("{file} row {line}, column {parent}"),
                    message,
                });
            }
        }
        if !orphans.is_empty() {
            return Err(ApiError::refusals(orphans));
        }
        // Longest pointers first, so that a failure is named by its own record's row.
        places.sort_by_key(|(pointer, ..)| std::cmp::Reverse(pointer.len()));
        Ok(Bundle {
            document: serde_json::to_vec(&document).map_err(|error| ApiError::Internal(error.to_string()))?,
            places,
        })
    }

    /// A failure named by pointer, named instead by the file, row and column it came from; a 422,
    /// since the document describes a zip only as bytes.
    pub fn named(&self, failure: ApiError) -> ApiError {
        failure.renamed(|field| self.place_of(field)).as_refusal()
    }

    fn place_of(&self, pointer: &str) -> String {
        for (prefix, file, row) in &self.places {
            if let Some(rest) = pointer.strip_prefix(prefix.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    let column = rest.trim_start_matches('/').replace('/', "_");
                    // List columns name the list (`divisions_code`), not its position in it.
                    let column: String = column
                        .split('_')
                        .filter(|part| part.parse::<usize>().is_err())
                        .collect::<Vec<_>>()
                        .join("_");
                    return if column.is_empty() {
                        format!("{file} row {row}")
                    } else {
                        format!("{file} row {row}, column {column}")
                    };
                }
            }
        }
        pointer.to_string()
    }
}
