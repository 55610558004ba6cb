//! The plan document that `GET /plans/{id}/export` writes and `POST /plans/import` reads.
//!
//! Import reads the fields a plan is made of and ignores what the export derives (ids, progress,
//! labels, versions, times), so an export can be imported as it is. Every record is read on its
//! own (`Part`): a record that does not fit is named by its JSON Pointer and the rest are still
//! read, so that one answer lists every failing place.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::api::results::ResultStatus;
use crate::db::plans::Keyword;
use crate::domain::kpi::{Direction, YearType};
use crate::domain::progress::GradeStep;
use crate::error::{ApiError, FieldError};

/// A record of the document as read: its fields, or where and why it does not fit.
#[derive(Debug)]
pub enum Part<T> {
    Read(T),
    /// `path` is inside the record, as serde names it (`target.value`, `results[2].year`).
    Failed {
        path: String,
        message: String,
    },
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Part<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read from the record's own text, so that decimals keep their digits.
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let mut reader = serde_json::Deserializer::from_str(raw.get());
        Ok(match serde_path_to_error::deserialize::<_, T>(&mut reader) {
            Ok(record) => Part::Read(record),
            Err(error) => Part::Failed {
                path: error.path().to_string(),
                message: without_position(&error.into_inner().to_string()),
            },
        })
    }
}

/// serde's message without its "at line 1 column 286": the pointer says where, within the
/// record's own text the position would only mislead.
pub fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

/// `/year` for serde's "missing field `year`", whose path is the object that lacks it.
fn missing_field(message: &str) -> String {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map_or_else(String::new, |name| format!("/{name}"))
}

/// `results[2].year` as a JSON Pointer suffix: `/results/2/year`.
pub fn pointer_of(serde_path: &str) -> String {
    if serde_path.is_empty() || serde_path == "." {
        return String::new();
    }
    let mut pointer = String::new();
    for segment in serde_path.split(['.', '[']) {
        let segment = segment.trim_end_matches(']');
        if !segment.is_empty() {
            pointer.push('/');
            pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        }
    }
    pointer
}

impl<T> Part<T> {
    /// The record, or `None` after noting where it fails.
    pub fn read(&self, at: &str, errors: &mut Vec<FieldError>) -> Option<&T> {
        match self {
            Part::Read(record) => Some(record),
            Part::Failed { path, message } => {
                errors.push(FieldError {
                    field: format!("{at}{}{}", pointer_of(path), missing_field(message)),
                    message: message.clone(),
                });
                None
            }
        }
    }
}

/// A whole plan: what `GET /api/v1/plans/{id}/export` answers and `POST /api/v1/plans/import` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PlanDocument)]
pub struct PlanDocument {
    #[schema(value_type = PlanPart)]
    pub plan: Part<PlanPart>,
    #[schema(value_type = Vec<DepartmentPart>)]
    pub departments: Vec<Part<DepartmentPart>>,
    #[schema(value_type = Vec<GoalPart>)]
    pub goals: Vec<Part<GoalPart>>,
    #[schema(value_type = Vec<ProjectPart>)]
    pub projects: Vec<Part<ProjectPart>>,
    /// Frozen evaluations, oldest first (absent: none).
    #[serde(default)]
    #[schema(value_type = Vec<EvaluationPart>)]
    pub evaluations: Vec<Part<EvaluationPart>>,
    /// The document as sent, for the codes of records that cannot be read.
    #[serde(skip)]
    #[schema(ignore)]
    pub sent: serde_json::Value,
}

/// The codes of every record the document gives, whether or not it can be created.
#[derive(Debug, Default)]
pub struct Codes<'a> {
    pub divisions: HashSet<&'a str>,
    pub initiatives: HashSet<&'a str>,
    pub kpis: HashSet<&'a str>,
    pub projects: HashSet<&'a str>,
}

/// The `code` of every object at the end of `path` (keys of nested lists) in the document as sent.
fn sent_codes<'a>(value: &'a serde_json::Value, path: &[&str], into: &mut HashSet<&'a str>) {
    match path.split_first() {
        None => into.extend(value["code"].as_str()),
        Some((key, rest)) => {
            for item in value[*key].as_array().into_iter().flatten() {
                sent_codes(item, rest, into);
            }
        }
    }
}

/// Plan documents nest goal → measure → initiative → KPI → revision → target; deeper is refused unread.
const MAX_DOCUMENT_NESTING: usize = 24;

impl PlanDocument {
    /// Reads a JSON plan document; a body that is not one at all is a 400 naming where it fails.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if crate::api::records::nesting_depth(body) > MAX_DOCUMENT_NESTING {
            return Err(ApiError::bad_field(
                "body",
                format!("nests arrays and objects deeper than {MAX_DOCUMENT_NESTING} levels"),
            ));
        }
        let mut reader = serde_json::Deserializer::from_slice(body);
        let mut document: PlanDocument = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
            let message = error.inner().to_string();
            // Every record is read on its own (`Part`): what fails here is the document's own shape.
            let at = match missing_field(&message) {
                // Not JSON at all: the position in the message says where.
                _ if error.inner().is_syntax() || error.inner().is_eof() => String::new(),
                missing if !missing.is_empty() => missing,
                _ => pointer_of(&error.path().to_string()),
            };
            // Over the whole body the position helps: a syntax error has no other place.
            ApiError::bad_field(if at.is_empty() { "body".to_string() } else { at }, message)
        })?;
        document.sent = serde_json::from_slice(body).unwrap_or_default();
        Ok(document)
    }

    /// The codes the document gives, also in records that cannot be read.
    pub fn codes(&self) -> Codes<'_> {
        let mut codes = Codes::default();
        let sent = &self.sent;
        sent_codes(sent, &["departments", "divisions"], &mut codes.divisions);
        sent_codes(sent, &["goals", "measures", "initiatives"], &mut codes.initiatives);
        sent_codes(sent, &["goals", "measures", "initiatives", "kpis"], &mut codes.kpis);
        sent_codes(sent, &["projects"], &mut codes.projects);
        codes
    }

    /// The plan's code, where the plan could be read.
    pub fn plan_code(&self) -> Option<&str> {
        match &self.plan {
            Part::Read(plan) => Some(&plan.code),
            Part::Failed { .. } => None,
        }
    }
}

/// The plan itself: its code must not be taken by a plan already present.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlanPart {
    #[schema(example = "atsugi-3", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub document_title: String,
    #[schema(example = "142123", pattern = "^[0-9]{6}$")]
    pub municipality_code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub municipality_name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub prefecture: String,
    #[schema(minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub period_start_year: i32,
    #[schema(minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub period_end_year: i32,
    /// Absent or null: the default A–D scheme.
    #[serde(default)]
    pub grading_scheme: Option<Vec<GradeStep>>,
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    #[schema(format = Date)]
    pub published_on: Option<String>,
    #[serde(default)]
    pub licence: Option<String>,
    #[serde(default)]
    pub licence_url: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub keywords: Vec<Keyword>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub contact_url: Option<String>,
    /// Corrections of evident typos of the published text.
    #[serde(default)]
    pub corrections: Vec<CorrectionPart>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectionPart {
    #[schema(min_length = 1, max_length = 200)]
    pub record: String,
    #[schema(min_length = 1, max_length = 200)]
    pub field: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub published: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub normalised: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DepartmentPart {
    #[schema(example = "D01", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Vec<DivisionPart>)]
    pub divisions: Vec<Part<DivisionPart>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DivisionPart {
    #[schema(example = "D01-01", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GoalPart {
    #[schema(example = "1", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(min_length = 1, max_length = 200)]
    pub category: String,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = Vec<MeasurePart>)]
    pub measures: Vec<Part<MeasurePart>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MeasurePart {
    #[schema(example = "1-1", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = Vec<InitiativePart>)]
    pub initiatives: Vec<Part<InitiativePart>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InitiativePart {
    #[schema(example = "1-1-1", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(minimum = 1, maximum = 999)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub number: i32,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = Vec<KpiPart>)]
    pub kpis: Vec<Part<KpiPart>>,
    /// The order of the initiative's project table (each project listed here also lists this
    /// initiative in its `appearances`); absent: the order of the projects.
    #[serde(default)]
    #[schema(value_type = Vec<InitiativeAppearancePart>)]
    pub project_appearances: Vec<Part<InitiativeAppearancePart>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InitiativeAppearancePart {
    #[schema(example = "P001", min_length = 1, max_length = 50)]
    pub project_code: String,
}

/// A baseline or a target: `value_text` (the exact decimal) where present, else `value`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MeasurementPart {
    #[serde(default, deserialize_with = "crate::domain::input::decimal::deserialize")]
    #[schema(schema_with = crate::domain::input::decimal::schema)]
    pub value: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub value_text: Option<String>,
    #[schema(minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub year: i32,
    pub year_type: YearType,
}

impl MeasurementPart {
    pub fn decimal(&self) -> Option<String> {
        self.value_text.clone().or_else(|| self.value.clone())
    }

    /// Which field the decimal was read from, to name it in an error.
    pub fn decimal_key(&self) -> &'static str {
        if self.value_text.is_some() {
            "value_text"
        } else {
            "value"
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct KpiPart {
    #[schema(example = "1-1-1-1", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "件", min_length = 1, max_length = 50)]
    pub unit: String,
    #[serde(default)]
    pub cumulative: bool,
    /// Only read where it cannot be derived (a baseline of null).
    #[serde(default)]
    pub direction: Option<Direction>,
    pub baseline: MeasurementPart,
    /// The current target; with `target_revisions`, the last revision's target.
    pub target: MeasurementPart,
    #[serde(default)]
    pub source: Option<String>,
    /// Oldest first; the first one's `previous` is the original target.
    #[serde(default)]
    #[schema(value_type = Vec<TargetRevisionPart>)]
    pub target_revisions: Vec<Part<TargetRevisionPart>>,
    #[serde(default)]
    #[schema(value_type = Vec<ResultPart>)]
    pub results: Vec<Part<ResultPart>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TargetRevisionPart {
    pub previous: MeasurementPart,
    pub target: MeasurementPart,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    #[schema(min_length = 1, max_length = 200)]
    pub revised_by: String,
    pub revised_at: DateTime<Utc>,
}

/// One year's result, as `PUT /kpis/{id}/results/{year}` takes it, with its year.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResultPart {
    #[schema(minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub year: i32,
    #[serde(default, deserialize_with = "crate::domain::input::decimal::deserialize")]
    #[schema(schema_with = crate::domain::input::decimal::schema)]
    pub value: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub value_text: Option<String>,
    #[serde(default)]
    pub status: Option<ResultStatus>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub analysis: Option<String>,
    #[serde(default)]
    pub next_steps: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectPart {
    #[schema(example = "P001", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    pub account: Option<String>,
    /// Responsible divisions, by code, in order.
    #[schema(value_type = Vec<CodeRef>)]
    pub divisions: Vec<Part<CodeRef>>,
    /// Where the project is listed.
    #[schema(value_type = Vec<ProjectAppearancePart>)]
    pub appearances: Vec<Part<ProjectAppearancePart>>,
}

/// A record named by its code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRef {
    #[schema(min_length = 1, max_length = 50)]
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectAppearancePart {
    #[schema(example = "1-1-1", min_length = 1, max_length = 50)]
    pub initiative_code: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub description: String,
}

/// A frozen evaluation, kept as it was.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvaluationPart {
    #[schema(minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub fiscal_year: i32,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Who froze it (absent: whoever imports the document).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Vec<EvaluationItemPart>)]
    pub items: Vec<Part<EvaluationItemPart>>,
}

/// One KPI as an evaluation froze it; `kpi_code` names a KPI of the document.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EvaluationItemPart {
    #[schema(min_length = 1, max_length = 50)]
    pub kpi_code: String,
    pub kpi_name: String,
    pub unit: String,
    pub direction: Direction,
    pub baseline_value: Option<String>,
    pub target_value: Option<String>,
    #[serde(default)]
    pub target_year: Option<i32>,
    #[serde(default)]
    pub original_target_value: Option<String>,
    #[serde(default)]
    pub original_target_year: Option<i32>,
    #[serde(default)]
    pub original_achievement: Option<f64>,
    pub result_year: Option<i32>,
    pub result_value: Option<String>,
    pub achievement: Option<f64>,
    pub expected: Option<f64>,
    pub status: crate::domain::progress::Status,
    pub grade: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_paths_become_json_pointers() {
        assert_eq!(pointer_of("target.value"), "/target/value");
        assert_eq!(pointer_of("results[2].year"), "/results/2/year");
        assert_eq!(pointer_of("."), "");
    }

    #[test]
    fn a_failing_record_is_named_and_the_others_still_read() {
        let parts: Vec<Part<DivisionPart>> =
            serde_json::from_str(r#"[{"code":"D01-01","name":"a"},{"code":1,"name":"b"},{"name":"c"}]"#).unwrap();
        let mut errors = Vec::new();
        let read: Vec<_> = parts
            .iter()
            .enumerate()
            .filter_map(|(index, part)| part.read(&format!("/divisions/{index}"), &mut errors))
            .collect();
        assert_eq!(read.len(), 1);
        let fields: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["/divisions/1/code", "/divisions/2/code"]);
    }
}
