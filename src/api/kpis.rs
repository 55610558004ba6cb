//! `/kpis`: key performance indicators with their baselines and targets.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::records::{record_endpoints, Record};
use super::{list_response, utc, Collection, CommonParams, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::kpis::{self as store, KpiFilter, KpiForm, KpiRow, MeasurementForm};
use crate::db::results::{self, KpiFacts, ResultRow};
use crate::db::{Database, DbConnection};
use crate::domain::era;
use crate::domain::kpi::{decimal_value, Direction, YearType};
use crate::domain::progress::{self, GradeStep, Status};
use crate::error::{ApiError, FieldError, ListErrors};

/// A KPI (重要業績評価指標) of an initiative.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpi {
    #[schema(example = 1)]
    pub id: i64,
    /// `goal-measure-initiative-position`.
    #[schema(example = "1-1-1-1")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 1)]
    pub initiative_id: i64,
    /// The name as published.
    #[schema(example = "国内友好都市との交流活動件数")]
    pub name: String,
    /// Unit as published: 件, 人, %, 社, 団体, 地区, m, m²/人.
    #[schema(example = "件")]
    pub unit: String,
    /// Whether the figure is a running total (累計).
    #[schema(example = false)]
    pub cumulative: bool,
    /// Which way the KPI must move from baseline to target, derived from the two.
    pub direction: Direction,
    /// The value when the strategy was drawn up (現状値).
    pub baseline: Measurement,
    /// The value to reach (目標値): the current one, after any revisions.
    pub target: Measurement,
    /// How the target was revised (目標値の見直し), oldest first: the first one's `previous` is
    /// the original target. Revised through `POST /kpis/{id}/target-revisions`, never by a patch.
    pub target_revisions: Vec<super::target_revisions::TargetRevision>,
    /// Where its figures come from (a survey, a statistic, a URL), if stated.
    pub source: Option<String>,
    /// How far the KPI has come, from its latest yearly result, against the current target.
    pub progress: Progress,
    /// The same against the original target, where the target was revised (else null).
    pub original_target_progress: Option<Progress>,
    /// Bumped by every write of the record.
    #[schema(example = 1)]
    pub version: i64,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A baseline or target: the value as published and the year it refers to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"value": 99.1, "value_text": "99.10", "year": 2026, "year_type": "fiscal", "label": "令和8(2026)年度"}))]
pub struct Measurement {
    /// The value as a number; null where the document gives "—" (not measured).
    #[schema(value_type = Option<f64>)]
    pub value: Option<serde_json::Number>,
    /// The exact published decimal, keeping its places ("99.10"), without thousands separators.
    pub value_text: Option<String>,
    /// Gregorian year.
    pub year: i32,
    /// `fiscal` (年度, April to March) or `calendar` (年).
    pub year_type: YearType,
    /// The year as the document writes it.
    pub label: String,
}

impl Measurement {
    pub(crate) fn new(value_text: Option<String>, year: i32, year_type: &str) -> Self {
        // The column only ever holds values written through `YearType::as_str`.
        let year_type = year_type.parse().unwrap_or(YearType::Fiscal);
        Measurement {
            value: value_text.as_deref().and_then(decimal_value),
            value_text,
            year,
            year_type,
            label: era::label(year, year_type),
        }
    }
}

/// Progress of a KPI from its latest result. Achievement: (result − baseline) / (target − baseline)
/// for `increase` and `decrease` (1.0 is the target met; below 0 or above 1 is reported as it is);
/// for `maintain`, 1.0 while the result is at least the target, else result / target; without a
/// baseline, result / target. Expected: linear from 0 in the baseline year to 1 in the target year,
/// at the result's year. Status: `achieved` (achievement ≥ 1), `on_track` (≥ expected), `behind`,
/// `no_data`, `not_measurable`. Example: 22 → 30 件 (2019 → 2026), 26 in 2022: achievement 0.5,
/// expected 0.4286, on track.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"latest_year": 2022, "latest_value": 26, "latest_value_text": "26", "achievement": 0.5,
    "expected": 0.4286, "status": "on_track", "grade": "C"}))]
pub struct Progress {
    /// Year of the latest result (in the KPI's year type), null without results.
    pub latest_year: Option<i32>,
    /// The latest result's value, null without one (or when not measurable).
    #[schema(value_type = Option<f64>)]
    pub latest_value: Option<serde_json::Number>,
    /// The latest result's exact decimal.
    pub latest_value_text: Option<String>,
    /// Achievement rate, rounded to 4 places.
    pub achievement: Option<f64>,
    /// Rate expected by the latest result's year, rounded to 4 places.
    pub expected: Option<f64>,
    pub status: Status,
    /// Grade of the achievement on the plan's grading scheme.
    pub grade: Option<String>,
}

impl Progress {
    pub fn of(kpi: &KpiRow, latest: Option<&ResultRow>, scheme: &[GradeStep]) -> Self {
        let computed = results::progress_of(kpi, latest);
        Progress {
            latest_year: latest.map(|result| result.year),
            latest_value: latest
                .and_then(|result| result.value.as_deref())
                .and_then(decimal_value),
            latest_value_text: latest.and_then(|result| result.value.clone()),
            grade: progress::grade(scheme, computed.achievement),
            achievement: computed.achievement,
            expected: computed.expected,
            status: computed.status,
        }
    }
}

impl From<KpiFacts> for Kpi {
    fn from(facts: KpiFacts) -> Self {
        let progress = Progress::of(&facts.kpi, facts.latest.as_ref(), &facts.scheme);
        let original_target_progress = facts
            .with_original_target()
            .map(|original| Progress::of(&original, facts.latest.as_ref(), &facts.scheme));
        let year_type = facts.kpi.target_year_type.clone();
        let target_revisions = facts
            .revisions
            .into_iter()
            .map(|row| super::target_revisions::TargetRevision::new(row, &year_type))
            .collect();
        let row = facts.kpi;
        Kpi {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            initiative_id: row.initiative_id,
            name: row.name,
            unit: row.unit,
            cumulative: row.cumulative,
            direction: row.direction.parse().unwrap_or(Direction::Increase),
            baseline: Measurement::new(row.baseline_value, row.baseline_year, &row.baseline_year_type),
            target: Measurement::new(row.target_value, row.target_year, &row.target_year_type),
            target_revisions,
            source: row.source,
            progress,
            original_target_progress,
            version: row.version,
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filters of KPIs.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// Only KPIs under this goal (its id).
    #[param(example = 1, inline)]
    pub goal: Option<crate::api::query::documented::Id>,
    /// Only KPIs under this measure (its id).
    #[param(example = 1, inline)]
    pub measure: Option<crate::api::query::documented::Id>,
    /// Only KPIs of this initiative (its id).
    #[param(example = 1, inline)]
    pub initiative: Option<crate::api::query::documented::Id>,
    /// Only KPIs of initiatives in which this department (its id) has a project.
    #[param(example = 1, inline)]
    pub department: Option<crate::api::query::documented::Id>,
    /// Only KPIs with this unit, as published: 件, 人, %, 社, 団体, 地区, m, m²/人.
    #[param(example = "%", inline)]
    pub unit: Option<crate::api::query::documented::Text>,
    /// Only running totals (`true`) or only yearly figures (`false`).
    #[param(example = true)]
    pub cumulative: Option<bool>,
    /// Only KPIs that should move this way.
    #[param(inline)]
    pub direction: Option<Direction>,
    /// Only KPIs whose progress has this status.
    #[param(inline)]
    pub status: Option<Status>,
    /// Words in the name: matched after NFKC normalisation, case folding and katakana/hiragana folding,
    /// so ｱﾕｺ, アユコ and あゆこ find the same KPIs.
    #[param(example = "件数", inline)]
    pub q: Option<crate::api::query::documented::Text>,
}

/// List KPIs.
#[utoipa::path(
    operation_id = "listKpis",
    tag = "kpis",
    params(KpiParams, CommonParams, PageParams, OutputParams),
    responses((status = 200, description = "A page of KPIs", content((Collection<Kpi> = "application/json"), (String = "text/csv"))), ListErrors)
)]
#[get("/kpis")]
pub async fn list(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = KpiFilter {
        common: params.common()?,
        goal: params.id("goal")?,
        measure: params.id("measure")?,
        initiative: params.id("initiative")?,
        department: params.id("department")?,
        unit: params.text("unit")?,
        cumulative: params.boolean("cumulative")?,
        direction: params.choice("direction")?,
        status: params.choice("status")?,
        q: params.text("q")?,
    };
    let output = params.output(&request)?;
    let page = params.page(store::KPI_SORT)?;
    params.finish()?;
    list_response::<_, Kpi, _>(&db, &request, page, output, move |conn, page| {
        store::list(conn, &filter, page)?.try_map(|rows| results::facts(conn, rows))
    })
    .await
}

impl Measurement {
    fn form(&self) -> MeasurementForm {
        MeasurementForm {
            value: self.value_text.clone(),
            year: self.year,
            year_type: self.year_type,
        }
    }
}

/// KPIs are written with the `kpis:write` scope.
pub struct KpiRecord;

impl Record for KpiRecord {
    const RESOURCE: &'static str = "kpi";
    const PATH: &'static str = "/api/v1/kpis";
    const SCOPE: Scope = Scope::KpisWrite;
    type View = Kpi;
    type Input = KpiForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Kpi, ApiError> {
        let row = store::get(conn, id)?;
        Ok(results::facts(conn, vec![row])?.remove(0).into())
    }

    fn plan_of(view: &Kpi) -> Option<i64> {
        Some(view.plan_id)
    }

    fn input_of(view: &Kpi) -> KpiForm {
        KpiForm {
            initiative_id: view.initiative_id,
            code: view.code.clone(),
            name: view.name.clone(),
            unit: view.unit.clone(),
            cumulative: view.cumulative,
            baseline: view.baseline.form(),
            target: view.target.form(),
            // Derived from baseline and target; a KPI without a baseline keeps its own unless one is sent.
            direction: None,
            source: view.source.clone(),
        }
    }

    fn validate(conn: &mut DbConnection, input: &KpiForm, id: Option<i64>) -> Result<(), ApiError> {
        let rules = store::validate(conn, input, id);
        // A target changed in place would silently change every achievement read against it.
        let Some(id) = id else { return rules };
        let stored = store::get(conn, id)?;
        let revised: Vec<FieldError> = [
            ("target.value", input.target.value != stored.target_value),
            ("target.year", input.target.year != stored.target_year),
            ("target.year_type", input.target.year_type.as_str() != stored.target_year_type),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(field, _)| FieldError {
            field: field.into(),
            message: format!(
                "is revised with POST /api/v1/kpis/{id}/target-revisions, which keeps the original target and the reason"
            ),
        })
        .collect();
        match rules {
            Ok(()) if revised.is_empty() => Ok(()),
            Ok(()) => Err(ApiError::refusals(revised)),
            Err(ApiError::Unprocessable { mut errors, .. }) => {
                // A field another rule refuses already says what is wrong with it.
                let named: Vec<String> = errors.iter().map(|error| error.field.clone()).collect();
                errors.extend(revised.into_iter().filter(|error| !named.contains(&error.field)));
                Err(ApiError::refusals(errors))
            }
            Err(other) => Err(other),
        }
    }

    fn insert(conn: &mut DbConnection, input: &KpiForm) -> Result<i64, ApiError> {
        store::insert(conn, input)
    }

    /// A token limited to a department writes only KPIs of initiatives where it has a project.
    fn authorize(
        principal: &crate::auth::Principal,
        conn: &mut DbConnection,
        before: Option<&Kpi>,
        after: Option<&KpiForm>,
    ) -> Result<(), ApiError> {
        if let Some(before) = before {
            principal.check_kpi_reach(conn, before.initiative_id)?;
        }
        if let Some(after) = after {
            principal.check_kpi_reach(conn, after.initiative_id)?;
        }
        Ok(())
    }

    fn update(conn: &mut DbConnection, id: i64, input: &KpiForm) -> Result<(), ApiError> {
        store::update(conn, id, input)?;
        results::refresh_status(conn, id)
    }

    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
        Ok(crate::db::dependents(&[
            (results::count_of_kpi(conn, id)?, "yearly results"),
            (crate::db::revisions::count_of_kpi(conn, id)?, "target revisions"),
        ]))
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete(conn, id)
    }
}

record_endpoints! {
    record: KpiRecord, name: "Kpi", form: KpiForm, view: Kpi, tag: "kpis", scope: "kpis:write",
    collection: "/kpis", item: "/kpis/{id}",
    get: get "Get one KPI.",
    create: create "Create a KPI (`kpis:write`).",
    update: update "Correct a KPI (`kpis:write`), as a JSON merge patch under If-Match.",
    delete: delete "Delete a KPI (`kpis:write`), under If-Match.",
}
