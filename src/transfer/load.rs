//! Creates a whole plan from a `PlanDocument` in the caller's transaction, through the same
//! rules and inserts as the API's single-record writes; every failing place is named.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::document::{pointer_of, KpiPart, MeasurementPart, Part, PlanDocument};
use crate::api::departments::{DepartmentRecord, DivisionRecord};
use crate::api::goals::{GoalRecord, InitiativeRecord, MeasureRecord};
use crate::api::kpis::KpiRecord;
use crate::api::plans::PlanRecord;
use crate::api::projects::ProjectRecord;
use crate::api::records::Record;
use crate::api::results::{self as result_api, ResultForm};
use crate::db::departments::{DepartmentForm, DivisionForm};
use crate::db::evaluations::{self, ItemRow};
use crate::db::goals::{GoalForm, InitiativeForm, MeasureForm};
use crate::db::kpis::{self as kpi_store, KpiForm, MeasurementForm};
use crate::db::plans::{self, Correction, PlanForm};
use crate::db::projects::{self as project_store, AppearanceForm, ProjectForm};
use crate::db::revisions::{self, Revision};
use crate::db::{results, DbConnection};
use crate::error::{ApiError, FieldError};

/// How many records an import creates (or, in a dry run, would create), per table.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    pub plans: usize,
    pub source_corrections: usize,
    pub departments: usize,
    pub divisions: usize,
    pub goals: usize,
    pub measures: usize,
    pub initiatives: usize,
    pub kpis: usize,
    pub kpi_target_revisions: usize,
    pub kpi_results: usize,
    pub projects: usize,
    pub project_divisions: usize,
    pub project_appearances: usize,
    pub evaluations: usize,
    pub evaluation_items: usize,
}

/// Every failure of the document: shape (a 400) and rules (a 422), each at its JSON Pointer.
#[derive(Default)]
struct Failures {
    unfit: Vec<FieldError>,
    refused: Vec<FieldError>,
}

impl Failures {
    /// Notes a rule's failure, its fields named under `at`.
    fn note(&mut self, at: &str, failure: ApiError) -> Result<(), ApiError> {
        // A field already named by its pointer keeps it.
        let place = |errors: Vec<FieldError>| {
            errors.into_iter().map(|error| FieldError {
                field: if error.field.starts_with('/') {
                    error.field
                } else {
                    format!("{at}{}", pointer_of(&error.field))
                },
                message: error.message,
            })
        };
        match failure {
            ApiError::BadRequest { errors, .. } => self.unfit.extend(place(errors)),
            ApiError::Unprocessable { errors, .. } => self.refused.extend(place(errors)),
            other => return Err(other),
        }
        Ok(())
    }

    fn refuse(&mut self, field: String, message: impl Into<String>) {
        self.refused.push(FieldError {
            field,
            message: message.into(),
        });
    }

    fn read<'a, T>(&mut self, part: &'a Part<T>, at: &str) -> Option<&'a T> {
        part.read(at, &mut self.unfit)
    }

    fn finish(self) -> Result<(), ApiError> {
        match (self.unfit.is_empty(), self.refused.is_empty()) {
            (true, true) => Ok(()),
            (true, false) => Err(ApiError::refusals(self.refused)),
            (false, _) => Err(ApiError::fields([self.unfit, self.refused].concat())),
        }
    }
}

/// An initiative's project table as the document gives it: the initiative's id, each listed
/// project's code with its index, and where the table is.
type ProjectTable<'a> = (i64, Vec<(usize, &'a str)>, String);

/// Validates and inserts one record; `None` (its failures noted) when its rules refuse it.
fn create<R: Record>(
    conn: &mut DbConnection,
    failures: &mut Failures,
    at: &str,
    input: &R::Input,
) -> Result<Option<i64>, ApiError> {
    if let Err(failure) = R::validate(conn, input, None) {
        failures.note(at, failure)?;
        return Ok(None);
    }
    R::insert(conn, input).map(Some)
}

/// Whether a figure given twice (`value` and `value_text`, as the export writes it) is the same
/// figure both times; else the difference is noted, so that an edit of one is never lost.
fn agrees(failures: &mut Failures, at: &str, value: &Option<String>, value_text: &Option<String>) -> bool {
    let (Some(value), Some(text)) = (value, value_text) else {
        return true;
    };
    match (value.parse::<f64>(), text.parse::<f64>()) {
        (Ok(number), Ok(exact)) if number != exact => {
            failures.refuse(
                format!("{at}/value"),
                format!("is {value} but value_text is {text}: give one of them, or both alike"),
            );
            false
        }
        _ => true,
    }
}

fn measurement(part: &MeasurementPart) -> MeasurementForm {
    MeasurementForm {
        value: part.decimal(),
        year: part.year,
        year_type: part.year_type,
    }
}

/// Creates the plan of `document` with every record in it; the caller's transaction makes it all
/// or nothing. A plan code already present is a 409, every other failure is named by pointer.
pub fn import(conn: &mut DbConnection, document: &PlanDocument, importer: &str) -> Result<(i64, Counts), ApiError> {
    let mut failures = Failures::default();
    let mut counts = Counts::default();
    let Some(plan) = failures.read(&document.plan, "/plan") else {
        return Err(failures.finish().expect_err("a failure was noted"));
    };
    if plans::id_of_code(conn, &plan.code)?.is_some() {
        return Err(ApiError::Conflict(format!(
            "a plan with code `{}` is already present; change `/plan/code` to import this document as another plan",
            plan.code
        )));
    }
    let form = PlanForm {
        code: plan.code.clone(),
        name: plan.name.clone(),
        document_title: plan.document_title.clone(),
        municipality_code: plan.municipality_code.clone(),
        municipality_name: plan.municipality_name.clone(),
        prefecture: plan.prefecture.clone(),
        period_start_year: plan.period_start_year,
        period_end_year: plan.period_end_year,
        grading_scheme: plan.grading_scheme.clone(),
        publisher: plan.publisher.clone(),
        source_url: plan.source_url.clone(),
        published_on: plan.published_on.clone(),
        licence: plan.licence.clone(),
        licence_url: plan.licence_url.clone(),
        description: plan.description.clone(),
        keywords: plan.keywords.clone(),
        contact_name: plan.contact_name.clone(),
        contact_email: plan.contact_email.clone(),
        contact_url: plan.contact_url.clone(),
    };
    // Without the plan nothing else can be placed: its failures are the answer.
    let Some(plan_id) = create::<PlanRecord>(conn, &mut failures, "/plan", &form)? else {
        return Err(failures.finish().expect_err("a failure was noted"));
    };
    counts.plans = 1;
    for (index, correction) in plan.corrections.iter().enumerate() {
        let at = format!("/plan/corrections/{index}");
        let mut checks = crate::domain::validate::Checks::default();
        use crate::domain::validate::{MAX_DESCRIPTION, MAX_NAME};
        checks.text("record", &correction.record, MAX_NAME);
        checks.text("field", &correction.field, MAX_NAME);
        checks.text("published", &correction.published, MAX_DESCRIPTION);
        checks.text("normalised", &correction.normalised, MAX_DESCRIPTION);
        checks.text("reason", &correction.reason, MAX_DESCRIPTION);
        if let Err(failure) = checks.finish() {
            failures.note(&at, failure)?;
            continue;
        }
        plans::add_correction(
            conn,
            plan_id,
            &Correction {
                record: &correction.record,
                field: &correction.field,
                published: &correction.published,
                normalised: &correction.normalised,
                reason: &correction.reason,
            },
        )?;
        counts.source_corrections += 1;
    }

    // A record that failed is reported once: what refers to it is left out, not reported again.
    let known = document.codes();
    let mut division_ids: HashMap<&str, i64> = HashMap::new();
    for (index, department) in document.departments.iter().enumerate() {
        let at = format!("/departments/{index}");
        let Some(department) = failures.read(department, &at) else {
            continue;
        };
        let form = DepartmentForm {
            plan_id,
            code: department.code.clone(),
            name: department.name.clone(),
        };
        let Some(department_id) = create::<DepartmentRecord>(conn, &mut failures, &at, &form)? else {
            continue;
        };
        counts.departments += 1;
        for (index, division) in department.divisions.iter().enumerate() {
            let at = format!("{at}/divisions/{index}");
            let Some(division) = failures.read(division, &at) else {
                continue;
            };
            let form = DivisionForm {
                department_id,
                code: division.code.clone(),
                name: division.name.clone(),
            };
            if let Some(id) = create::<DivisionRecord>(conn, &mut failures, &at, &form)? {
                division_ids.insert(&division.code, id);
                counts.divisions += 1;
            }
        }
    }

    let mut initiative_ids: HashMap<&str, i64> = HashMap::new();
    let mut kpi_ids: HashMap<&str, i64> = HashMap::new();
    // Each initiative's project table, in its order: (initiative id, (index, project code), pointer).
    let mut tables: Vec<ProjectTable> = Vec::new();
    for (index, goal) in document.goals.iter().enumerate() {
        let at = format!("/goals/{index}");
        let Some(goal) = failures.read(goal, &at) else { continue };
        let form = GoalForm {
            plan_id,
            code: goal.code.clone(),
            number: goal.number,
            category: goal.category.clone(),
            title: goal.title.clone(),
        };
        let Some(goal_id) = create::<GoalRecord>(conn, &mut failures, &at, &form)? else {
            continue;
        };
        counts.goals += 1;
        for (index, measure) in goal.measures.iter().enumerate() {
            let at = format!("{at}/measures/{index}");
            let Some(measure) = failures.read(measure, &at) else {
                continue;
            };
            let form = MeasureForm {
                goal_id,
                code: measure.code.clone(),
                number: measure.number,
                title: measure.title.clone(),
            };
            let Some(measure_id) = create::<MeasureRecord>(conn, &mut failures, &at, &form)? else {
                continue;
            };
            counts.measures += 1;
            for (index, initiative) in measure.initiatives.iter().enumerate() {
                let at = format!("{at}/initiatives/{index}");
                let Some(initiative) = failures.read(initiative, &at) else {
                    continue;
                };
                let form = InitiativeForm {
                    measure_id,
                    code: initiative.code.clone(),
                    number: initiative.number,
                    title: initiative.title.clone(),
                };
                let Some(initiative_id) = create::<InitiativeRecord>(conn, &mut failures, &at, &form)? else {
                    continue;
                };
                counts.initiatives += 1;
                initiative_ids.insert(&initiative.code, initiative_id);
                for (index, kpi) in initiative.kpis.iter().enumerate() {
                    let at = format!("{at}/kpis/{index}");
                    let Some(kpi) = failures.read(kpi, &at) else { continue };
                    if let Some(id) = import_kpi(conn, &mut failures, &mut counts, &at, initiative_id, kpi)? {
                        kpi_ids.insert(&kpi.code, id);
                    }
                }
                let mut table = Vec::new();
                for (index, appearance) in initiative.project_appearances.iter().enumerate() {
                    if let Some(appearance) = failures.read(appearance, &format!("{at}/project_appearances/{index}")) {
                        table.push((index, appearance.project_code.as_str()));
                    }
                }
                tables.push((initiative_id, table, format!("{at}/project_appearances")));
            }
        }
    }

    let mut project_ids: HashMap<&str, i64> = HashMap::new();
    let mut listed: Vec<(i64, i64)> = Vec::new();
    for (index, project) in document.projects.iter().enumerate() {
        let at = format!("/projects/{index}");
        let Some(project) = failures.read(project, &at) else {
            continue;
        };
        let mut divisions = Vec::new();
        for (index, division) in project.divisions.iter().enumerate() {
            let at = format!("{at}/divisions/{index}");
            let Some(division) = failures.read(division, &at) else {
                continue;
            };
            match division_ids.get(division.code.as_str()) {
                Some(id) => divisions.push(*id),
                None if known.divisions.contains(division.code.as_str()) => {}
                None => failures.refuse(format!("{at}/code"), "names no division of the document's departments"),
            }
        }
        let mut appearances = Vec::new();
        for (index, appearance) in project.appearances.iter().enumerate() {
            let at = format!("{at}/appearances/{index}");
            let Some(appearance) = failures.read(appearance, &at) else {
                continue;
            };
            match initiative_ids.get(appearance.initiative_code.as_str()) {
                Some(id) => appearances.push(AppearanceForm {
                    initiative_id: *id,
                    description: appearance.description.clone(),
                }),
                None if known.initiatives.contains(appearance.initiative_code.as_str()) => {}
                None => failures.refuse(
                    format!("{at}/initiative_code"),
                    "names no initiative of the document's goals",
                ),
            }
        }
        if divisions.len() != project.divisions.len() || appearances.len() != project.appearances.len() {
            continue;
        }
        let form = ProjectForm {
            plan_id,
            code: project.code.clone(),
            name: project.name.clone(),
            account: project.account.clone(),
            divisions,
            appearances,
        };
        let Some(id) = create::<ProjectRecord>(conn, &mut failures, &at, &form)? else {
            continue;
        };
        counts.projects += 1;
        counts.project_divisions += form.divisions.len();
        counts.project_appearances += form.appearances.len();
        project_ids.insert(&project.code, id);
        listed.extend(form.appearances.iter().map(|appearance| (id, appearance.initiative_id)));
    }
    for (initiative_id, table, at) in tables {
        if table.is_empty() {
            continue;
        }
        // A table given lists each project that lists the initiative, once: its order is then whole.
        let mut placed: Vec<i64> = Vec::new();
        for (index, code) in &table {
            let pointer = format!("{at}/{index}/project_code");
            match project_ids.get(code) {
                Some(project_id) if placed.contains(project_id) => {
                    failures.refuse(pointer, "lists this project a second time")
                }
                Some(project_id) if listed.contains(&(*project_id, initiative_id)) => {
                    placed.push(*project_id);
                    project_store::set_appearance_position(conn, *project_id, initiative_id, *index as i32 + 1)?;
                }
                Some(_) => failures.refuse(pointer, "this project's `appearances` do not list the initiative"),
                None if known.projects.contains(code) => {}
                None => failures.refuse(pointer, "names no project of the document"),
            }
        }
        for (project_id, _) in listed
            .iter()
            .filter(|(project, initiative)| *initiative == initiative_id && !placed.contains(project))
        {
            if let Some((code, _)) = project_ids.iter().find(|(_, id)| *id == project_id) {
                failures.refuse(
                    at.clone(),
                    format!("lacks project {code}, whose `appearances` list this initiative"),
                );
            }
        }
    }

    for (index, evaluation) in document.evaluations.iter().enumerate() {
        let at = format!("/evaluations/{index}");
        let Some(evaluation) = failures.read(evaluation, &at) else {
            continue;
        };
        let mut checks = crate::domain::validate::Checks::default();
        checks.year("fiscal_year", evaluation.fiscal_year);
        checks.text("title", &evaluation.title, crate::domain::validate::MAX_NAME);
        if let Some(by) = &evaluation.created_by {
            checks.text("created_by", by, crate::domain::validate::MAX_NAME);
        }
        if let Err(failure) = checks.finish() {
            failures.note(&at, failure)?;
            continue;
        }
        let mut items = Vec::new();
        for (index, item) in evaluation.items.iter().enumerate() {
            let at = format!("{at}/items/{index}");
            let Some(item) = failures.read(item, &at) else { continue };
            let Some(kpi_id) = kpi_ids.get(item.kpi_code.as_str()) else {
                if !known.kpis.contains(item.kpi_code.as_str()) {
                    failures.refuse(format!("{at}/kpi_code"), "names no KPI of the document");
                }
                continue;
            };
            items.push(ItemRow {
                kpi_id: *kpi_id,
                kpi_code: item.kpi_code.clone(),
                kpi_name: item.kpi_name.clone(),
                unit: item.unit.clone(),
                direction: item.direction.as_str().to_string(),
                baseline_value: item.baseline_value.clone(),
                target_value: item.target_value.clone(),
                result_year: item.result_year,
                result_value: item.result_value.clone(),
                achievement: item.achievement,
                expected: item.expected,
                status: item.status.as_str().to_string(),
                grade: item.grade.clone(),
                target_year: item.target_year,
                original_target_value: item.original_target_value.clone(),
                original_target_year: item.original_target_year,
                original_achievement: item.original_achievement,
            });
        }
        evaluations::create(
            conn,
            plan_id,
            evaluation.fiscal_year,
            &evaluation.title,
            evaluation.created_by.as_deref().unwrap_or(importer),
            evaluation.created_at.naive_utc(),
            &items,
        )?;
        counts.evaluations += 1;
        counts.evaluation_items += items.len();
    }
    failures.finish()?;
    Ok((plan_id, counts))
}

/// A KPI with its original target, then each revision in turn, then its results.
fn import_kpi(
    conn: &mut DbConnection,
    failures: &mut Failures,
    counts: &mut Counts,
    at: &str,
    initiative_id: i64,
    kpi: &KpiPart,
) -> Result<Option<i64>, ApiError> {
    let mut revisions = Vec::new();
    let mut disagreeing = false;
    for (place, part) in [("baseline", &kpi.baseline), ("target", &kpi.target)] {
        disagreeing |= !agrees(failures, &format!("{at}/{place}"), &part.value, &part.value_text);
    }
    for (index, revision) in kpi.target_revisions.iter().enumerate() {
        let at = format!("{at}/target_revisions/{index}");
        if let Some(revision) = failures.read(revision, &at) {
            for (place, part) in [("previous", &revision.previous), ("target", &revision.target)] {
                disagreeing |= !agrees(failures, &format!("{at}/{place}"), &part.value, &part.value_text);
            }
            revisions.push((index, revision));
        }
    }
    if revisions.len() != kpi.target_revisions.len() || disagreeing {
        return Ok(None);
    }
    let original = revisions
        .first()
        .map_or(&kpi.target, |(_, revision)| &revision.previous);
    let mut form = KpiForm {
        initiative_id,
        code: kpi.code.clone(),
        name: kpi.name.clone(),
        unit: kpi.unit.clone(),
        cumulative: kpi.cumulative,
        baseline: measurement(&kpi.baseline),
        target: measurement(original),
        direction: kpi.baseline.decimal().is_none().then_some(kpi.direction).flatten(),
        source: kpi.source.clone(),
    };
    let target_at = if revisions.is_empty() {
        at.to_string()
    } else {
        format!("{at}/target_revisions/0/previous")
    };
    if let Err(failure) = KpiRecord::validate(conn, &form, None) {
        // The original target is checked where the document gives it.
        let failure = failure.renamed(|field| match field {
            "target.value" if !revisions.is_empty() => format!("{target_at}/{}", original.decimal_key()),
            "target.value" => format!("{at}/target/{}", kpi.target.decimal_key()),
            "baseline.value" => format!("{at}/baseline/{}", kpi.baseline.decimal_key()),
            _ => match field.strip_prefix("target.") {
                Some(rest) if !revisions.is_empty() => format!("{target_at}/{rest}"),
                _ => format!("{at}{}", pointer_of(field)),
            },
        });
        failures.note("", failure)?;
        return Ok(None);
    }
    let id = KpiRecord::insert(conn, &form)?;
    counts.kpis += 1;
    for (index, revision) in revisions {
        let at = format!("{at}/target_revisions/{index}");
        let previous = measurement(&revision.previous);
        if previous.value != form.target.value || previous.year != form.target.year {
            failures.refuse(
                format!("{at}/previous"),
                "must be the target before this revision: the KPI's original target, or the previous revision's",
            );
            return Ok(Some(id));
        }
        let mut checks = crate::domain::validate::Checks::default();
        checks.text("reason", &revision.reason, crate::domain::validate::MAX_DESCRIPTION);
        checks.text("revised_by", &revision.revised_by, crate::domain::validate::MAX_NAME);
        let target = measurement(&revision.target);
        form.target.value = target.value.clone();
        form.target.year = target.year;
        // The KPI's `target.value` is this revision's `target/value`.
        let rules = checks
            .finish()
            .and_then(|()| kpi_store::validate(conn, &form, Some(id)));
        if let Err(failure) = rules {
            let key = revision.target.decimal_key();
            let failure = failure.renamed(|field| match field {
                "target.value" => format!("target.{key}"),
                other => other.to_string(),
            });
            failures.note(&at, failure)?;
            return Ok(Some(id));
        }
        revisions::record(
            conn,
            id,
            &Revision {
                value: target.value,
                year: target.year,
                reason: revision.reason.clone(),
                revised_by: revision.revised_by.clone(),
                revised_at: revision.revised_at.naive_utc(),
            },
        )?;
        KpiRecord::update(conn, id, &form)?;
        counts.kpi_target_revisions += 1;
    }
    let current = measurement(&kpi.target);
    if current.value != form.target.value || current.year != form.target.year {
        failures.refuse(
            format!("{at}/target"),
            "must be the last revision's target (the current target)",
        );
        return Ok(Some(id));
    }
    let row = kpi_store::get(conn, id)?;
    let mut years = Vec::new();
    for (index, result) in kpi.results.iter().enumerate() {
        let at = format!("{at}/results/{index}");
        let Some(result) = failures.read(result, &at) else {
            continue;
        };
        if !agrees(failures, &at, &result.value, &result.value_text) {
            continue;
        }
        if years.contains(&result.year) {
            failures.refuse(format!("{at}/year"), "is given twice for this KPI");
            continue;
        }
        years.push(result.year);
        let form = ResultForm {
            value: result.value_text.clone().or_else(|| result.value.clone()),
            status: result.status,
            note: result.note.clone(),
            source: result.source.clone(),
            analysis: result.analysis.clone(),
            next_steps: result.next_steps.clone(),
        };
        let mut checks = crate::domain::validate::Checks::default();
        checks.year("year", result.year);
        let values = checks
            .finish()
            .and_then(|()| result_api::check_year(&row, result.year))
            .and_then(|()| result_api::values_of(form));
        match values {
            Ok(values) => {
                results::put(conn, id, result.year, &values)?;
                counts.kpi_results += 1;
            }
            Err(failure) => {
                let read_from = if result.value_text.is_some() {
                    "value_text"
                } else {
                    "value"
                };
                let failure = failure.renamed(|field| match field {
                    "value" => read_from.to_string(),
                    other => other.to_string(),
                });
                failures.note(&at, failure)?
            }
        }
    }
    results::refresh_status(conn, id)?;
    Ok(Some(id))
}

/// Who an import's audit records name.
pub struct Actor<'a> {
    pub subject: &'a str,
    pub jti: &'a str,
    /// `POST` over HTTP, `CLI` for the command line.
    pub method: &'a str,
}

impl Actor<'_> {
    /// Records one write of an import in the audit log (and so in the change feed).
    pub fn audit(
        &self,
        conn: &mut DbConnection,
        write: (&str, i64, crate::db::write::Operation),
        before: Option<String>,
        after: Option<String>,
    ) -> Result<(), ApiError> {
        let (resource, record_id, operation) = write;
        crate::db::write::audit(
            conn,
            crate::db::write::AuditEntry {
                subject: self.subject,
                jti: self.jti,
                method: self.method,
                resource,
                record_id,
                operation,
                before,
                after,
            },
            crate::db::now(),
        )
    }
}

/// Audits every record of a newly created plan as created, with its representation, as the
/// single-record writes do: the change feed then lists each of them.
pub fn audit_created(conn: &mut DbConnection, actor: &Actor, plan_id: i64) -> Result<(), ApiError> {
    use crate::api::export;
    use crate::api::records::to_json as json;
    use crate::db::write::Operation;
    let mut entries: Vec<(&'static str, i64, Vec<u8>)> = Vec::new();
    entries.push((PlanRecord::RESOURCE, plan_id, json(&PlanRecord::load(conn, plan_id)?)?));
    // Parents before children, so that a consumer replaying the feed never meets a dangling reference.
    for department in export::departments(conn, plan_id)? {
        entries.push((DepartmentRecord::RESOURCE, department.id, json(&department)?));
        for division in &department.divisions {
            entries.push((
                DivisionRecord::RESOURCE,
                division.id,
                json(&DivisionRecord::load(conn, division.id)?)?,
            ));
        }
    }
    for goal_id in export::goal_ids(conn, plan_id)? {
        let goal = export::goal_export(conn, goal_id, crate::db::results::ResultView::default())?;
        entries.push((GoalRecord::RESOURCE, goal.goal.id, json(&goal.goal)?));
        for measure in &goal.measures {
            entries.push((MeasureRecord::RESOURCE, measure.measure.id, json(&measure.measure)?));
            for initiative in &measure.initiatives {
                let id = initiative.initiative.id;
                entries.push((InitiativeRecord::RESOURCE, id, json(&initiative.initiative)?));
                for kpi in &initiative.kpis {
                    entries.push((KpiRecord::RESOURCE, kpi.kpi.id, json(&kpi.kpi)?));
                    for result in &kpi.results {
                        entries.push((results::RESULT_RESOURCE, kpi.kpi.id, json(result)?));
                    }
                }
            }
        }
    }
    for project in export::projects(conn, plan_id)? {
        entries.push((ProjectRecord::RESOURCE, project.id, json(&project)?));
    }
    for evaluation in crate::api::evaluations::of_plan(conn, plan_id)? {
        entries.push(("evaluation", evaluation.summary.id, json(&evaluation)?));
    }
    for (resource, record_id, after) in entries {
        let after = String::from_utf8_lossy(&after).into_owned();
        actor.audit(conn, (resource, record_id, Operation::Create), None, Some(after))?;
    }
    Ok(())
}

/// Checks the document as `import` would and answers what it would create, writing nothing:
/// the import runs in a savepoint that is always rolled back.
pub fn dry_run(
    conn: &mut DbConnection,
    document: &PlanDocument,
    importer: &str,
) -> Result<(Option<i64>, Counts), ApiError> {
    use diesel::Connection;
    let mut outcome = None;
    let rolled_back = conn.transaction::<(), ApiError, _>(|conn| {
        outcome = Some(import(conn, document, importer));
        Err(ApiError::Conflict("a dry run is always rolled back".into()))
    });
    match outcome {
        Some(Ok((_, counts))) => Ok((None, counts)),
        Some(Err(failure)) => Err(failure),
        None => Err(rolled_back.expect_err("the savepoint always fails")),
    }
}
