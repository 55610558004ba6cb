//! What each page shows, as text ready for its template: figures in their published places and
//! grouped by thousands, statuses as a mark and a word, years in the document's era form.

use actix_web::http::StatusCode;
use askama::Template;

use crate::api::kpis::{Kpi, KpiRecord, Measurement};
use crate::api::plans::PlanRecord;
use crate::api::progress::{rollup, StatusCounts};
use crate::api::records::Record;
use crate::api::results::{self as result_views, KpiResult};
use crate::api::target_revisions::TargetRevision;
use crate::db::goals::{self as goal_store, CommonFilter};
use crate::db::kpis::{self as kpi_store, KpiFilter};
use crate::db::plans::{self as plan_store, PlanFilter};
use crate::db::results::{self, ResultView, NOT_MEASURABLE};
use crate::db::{projects, DbConnection, Page};
use crate::domain::era;
use crate::domain::kpi::YearType;
use crate::domain::progress::Status;
use crate::domain::text::grouped;
use crate::error::ApiError;
use crate::report::{self, KpiLine, Report, Standing, Summary};

/// Plans per page of the index.
const PLANS_PER_PAGE: i64 = 20;

/// "―" stands for a figure there is none of; the pages' legends say so.
const NONE: &str = "―";

fn figure(text: Option<&str>) -> String {
    text.map_or_else(|| NONE.to_string(), grouped)
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| NONE.to_string(), |rate| format!("{:.1}%", rate * 100.0))
}

/// A result as a table cell shows it: its figure, or 測定不能.
pub fn cell_text(result: &KpiResult) -> String {
    match &result.value_text {
        Some(value) if result.status != NOT_MEASURABLE => grouped(value),
        _ => "測定不能".into(),
    }
}

fn period(start: i32, end: i32) -> String {
    format!(
        "{}～{}",
        era::label(start, YearType::Fiscal),
        era::label(end, YearType::Fiscal)
    )
}

/// A status as a mark, a word and the class that colours it (the colour is never alone).
pub struct StatusView {
    pub symbol: &'static str,
    pub label: &'static str,
    pub class: &'static str,
}

impl From<Status> for StatusView {
    fn from(status: Status) -> Self {
        StatusView {
            symbol: status.symbol(),
            label: status.label(),
            class: status.as_str(),
        }
    }
}

/// 「45指標のうち達成 20・順調 10・遅れ 5・未把握 10」 (測定不能 only where there are such).
fn summary_line(kpis: usize, counts: &StatusCounts) -> String {
    let mut line = format!(
        "{kpis}指標のうち達成 {}・順調 {}・遅れ {}・未把握 {}",
        counts.achieved, counts.on_track, counts.behind, counts.no_data
    );
    if counts.not_measurable > 0 {
        line.push_str(&format!("・測定不能 {}", counts.not_measurable));
    }
    line
}

// ---- the index ----

pub struct PlanCard {
    pub href: String,
    pub name: String,
    pub municipality: String,
    pub period: String,
    pub summary: String,
    /// The plan's record as JSON, then the whole plan's machine-readable forms.
    pub downloads: Vec<Link>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub plans: Vec<PlanCard>,
    pub total: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl IndexPage {
    pub fn load(conn: &mut DbConnection, page: i64) -> Result<Self, ApiError> {
        let listing = plan_store::list(
            conn,
            &PlanFilter::default(),
            Page {
                limit: PLANS_PER_PAGE,
                offset: (page - 1).saturating_mul(PLANS_PER_PAGE),
                sort: Vec::new(),
            },
        )?;
        if page > 1 && listing.items.is_empty() {
            return Err(ApiError::not_found("page", page));
        }
        let mut plans = Vec::new();
        for plan in listing.items {
            let filter = KpiFilter {
                common: CommonFilter {
                    plan: Some(plan.id),
                    code: None,
                },
                ..Default::default()
            };
            let standing = rollup(conn, &filter, ResultView::default())?;
            let mut downloads = vec![link(
                format!("/api/v1/plans/{}", plan.id),
                "計画の基本情報（JSON）",
                "application/json",
            )];
            downloads.extend(whole_plan(plan.id, &plan.code));
            plans.push(PlanCard {
                href: format!("/plans/{}", plan.id),
                downloads,
                period: period(plan.period_start_year, plan.period_end_year),
                summary: summary_line(standing.kpis, &standing.counts),
                municipality: format!("{}{}", plan.prefecture, plan.municipality_name),
                name: plan.name,
            });
        }
        let pages = (listing.total + PLANS_PER_PAGE - 1) / PLANS_PER_PAGE;
        Ok(IndexPage {
            plans,
            total: listing.total,
            previous: (page > 1).then(|| format!("/?page={}", page - 1)),
            next: (page < pages).then(|| format!("/?page={}", page + 1)),
        })
    }
}

// ---- the report ----

pub struct SummaryRow {
    pub label: String,
    pub kpis: usize,
    pub counts: [usize; 5],
    pub mean: String,
    pub grades: Vec<usize>,
}

impl SummaryRow {
    fn new(label: String, summary: &Summary) -> Self {
        let counts = &summary.counts;
        SummaryRow {
            label,
            kpis: summary.kpis,
            counts: [
                counts.achieved,
                counts.on_track,
                counts.behind,
                counts.no_data,
                counts.not_measurable,
            ],
            mean: percent(summary.mean_achievement),
            grades: summary.grades.iter().map(|(_, count)| *count).collect(),
        }
    }
}

/// The original target and the achievement against it, where the target was revised.
pub struct OriginalTarget {
    pub value: String,
    pub year: String,
    pub achievement: String,
}

pub struct KpiRow {
    pub href: String,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub baseline: String,
    pub baseline_year: String,
    pub target: String,
    pub target_year: String,
    pub original_target: Option<OriginalTarget>,
    pub cells: Vec<String>,
    pub achievement: String,
    pub status: StatusView,
    pub grade: String,
    pub divisions: String,
}

impl KpiRow {
    fn new(plan_id: i64, line: &KpiLine, years: &[i32]) -> Self {
        let kpi = &line.kpi;
        KpiRow {
            href: format!("/plans/{plan_id}/kpis/{}", kpi.id),
            code: kpi.code.clone(),
            name: kpi.name.clone(),
            unit: kpi.unit.clone(),
            baseline: figure(kpi.baseline.value_text.as_deref()),
            baseline_year: kpi.baseline.label.clone(),
            target: figure(kpi.target.value_text.as_deref()),
            target_year: kpi.target.label.clone(),
            original_target: line.original_target.as_ref().map(|original| OriginalTarget {
                value: figure(original.value_text.as_deref()),
                year: original.label.clone(),
                achievement: percent(line.original_achievement),
            }),
            cells: years
                .iter()
                .map(|year| match line.result_in(*year) {
                    Some(result) => {
                        let shown = cell_text(result);
                        // The columns are fiscal years; a calendar-year figure says so.
                        match result.year_type {
                            YearType::Calendar => format!("{shown}（{year}年）"),
                            YearType::Fiscal => shown,
                        }
                    }
                    None => NONE.to_string(),
                })
                .collect(),
            achievement: percent(kpi.progress.achievement),
            status: kpi.progress.status.into(),
            grade: kpi.progress.grade.clone().unwrap_or_else(|| NONE.to_string()),
            divisions: line.divisions.join("、"),
        }
    }
}

pub struct ProjectRow {
    pub name: String,
    pub description: String,
    pub divisions: String,
}

pub struct InitiativeView {
    pub id: String,
    pub heading: String,
    pub kpis: Vec<KpiRow>,
    pub projects: Vec<ProjectRow>,
}

pub struct MeasureView {
    pub heading: String,
    pub initiatives: Vec<InitiativeView>,
}

pub struct GoalView {
    pub id: String,
    pub heading: String,
    pub category: String,
    pub summary: String,
    pub measures: Vec<MeasureView>,
}

pub struct Link {
    pub href: String,
    pub label: String,
    pub format: &'static str,
}

pub struct EvaluationChoice {
    pub id: i64,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "plan.html")]
pub struct ReportPage {
    pub plan_id: i64,
    pub name: String,
    pub municipality: String,
    pub period: String,
    pub document_title: String,
    pub standing: String,
    pub is_now: bool,
    pub as_of: String,
    pub summary_line: String,
    pub grade_names: Vec<String>,
    pub summary: Vec<SummaryRow>,
    pub year_headings: Vec<String>,
    pub goals: Vec<GoalView>,
    pub evaluations: Vec<EvaluationChoice>,
    pub links: Vec<Link>,
    pub json_ld: String,
    /// KPIs the evaluation shown judged that were deleted since.
    pub removed: Vec<String>,
}

impl ReportPage {
    pub fn new(report: Report, base_url: &str) -> Result<Self, ApiError> {
        let plan = &report.plan.plan;
        let plan_id = plan.id;
        let mut summary = vec![SummaryRow::new("計画全体".into(), &report.summary)];
        summary.extend(
            report
                .goals
                .iter()
                .map(|goal| SummaryRow::new(format!("基本目標{}", goal.goal.number), &goal.summary)),
        );
        let goals = report
            .goals
            .iter()
            .map(|goal| GoalView {
                id: format!("goal-{}", goal.goal.id),
                heading: report::goal_heading(&goal.goal),
                category: goal.goal.category.clone(),
                summary: summary_line(goal.summary.kpis, &goal.summary.counts),
                measures: goal
                    .measures
                    .iter()
                    .map(|measure| MeasureView {
                        heading: report::measure_heading(&measure.measure),
                        initiatives: measure
                            .initiatives
                            .iter()
                            .map(|initiative| InitiativeView {
                                id: format!("initiative-{}", initiative.initiative.id),
                                heading: report::initiative_heading(&initiative.initiative),
                                kpis: initiative
                                    .kpis
                                    .iter()
                                    .map(|line| KpiRow::new(plan_id, line, &report.years))
                                    .collect(),
                                projects: initiative
                                    .projects
                                    .iter()
                                    .map(|listed| ProjectRow {
                                        name: match &listed.project.account {
                                            Some(account) => format!("{}（{}）", listed.project.name, account),
                                            None => listed.project.name.clone(),
                                        },
                                        description: listed.project.description.clone(),
                                        divisions: listed.divisions.join("、"),
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let selected = match &report.standing {
            Standing::Evaluation(evaluation) => Some(evaluation.id),
            _ => None,
        };
        let as_of = match &report.standing {
            Standing::AsOf(at) => (*at + chrono::TimeDelta::hours(9)).format("%Y-%m-%d").to_string(),
            _ => String::new(),
        };
        let links = distributions(plan_id, &plan.code, &report.standing);
        // Search engines index the plan as it is now, whichever moment the page shows.
        let published = distributions(plan_id, &plan.code, &Standing::Now);
        let kpis = report.summary.kpis;
        Ok(ReportPage {
            plan_id,
            name: plan.name.clone(),
            municipality: format!("{}{}", plan.prefecture, plan.municipality_name),
            period: period(plan.period_start_year, plan.period_end_year),
            document_title: plan.document_title.clone(),
            standing: report.standing.describe(),
            is_now: matches!(report.standing, Standing::Now),
            as_of,
            summary_line: summary_line(kpis, &report.summary.counts),
            grade_names: report.summary.grades.iter().map(|(grade, _)| grade.clone()).collect(),
            summary,
            year_headings: report
                .years
                .iter()
                .map(|year| era::label(*year, YearType::Fiscal))
                .collect(),
            goals,
            evaluations: report
                .evaluations
                .iter()
                .map(|evaluation| EvaluationChoice {
                    id: evaluation.id,
                    label: format!(
                        "{}（{}確定）",
                        evaluation.title,
                        report::japan_date(evaluation.created_at)
                    ),
                    selected: selected == Some(evaluation.id),
                })
                .collect(),
            json_ld: json_ld(&report, &published, base_url)?,
            removed: report.removed.clone(),
            links,
        })
    }
}

fn link(href: String, label: &str, format: &'static str) -> Link {
    Link {
        href,
        label: label.to_string(),
        format,
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The machine-readable forms of a plan, as the page links them: those of the moment shown, and
/// the whole plan's current ones.
fn distributions(plan_id: i64, code: &str, standing: &Standing) -> Vec<Link> {
    let mut links = match standing {
        Standing::Now => vec![
            link(format!("/api/v1/plans/{plan_id}/report.xlsx"), "KPI一覧（Excel）", XLSX),
            link(
                format!("/api/v1/progress?plan={plan_id}"),
                "進捗の集計（JSON）",
                "application/json",
            ),
        ],
        Standing::AsOf(at) => {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            vec![
                link(
                    format!("/api/v1/plans/{plan_id}/report.xlsx?as_of={at}"),
                    "この時点のKPI一覧（Excel）",
                    XLSX,
                ),
                link(
                    format!("/api/v1/progress?plan={plan_id}&as_of={at}"),
                    "この時点の進捗の集計（JSON）",
                    "application/json",
                ),
            ]
        }
        Standing::Evaluation(evaluation) => {
            let path = format!("/api/v1/plans/{plan_id}/evaluations/{}", evaluation.id);
            vec![
                link(format!("{path}/report.xlsx"), "この評価のKPI一覧（Excel）", XLSX),
                link(path.clone(), "この評価（JSON）", "application/json"),
                link(format!("{path}?format=csv"), "この評価（CSV）", "text/csv"),
            ]
        }
    };
    links.extend(whole_plan(plan_id, code));
    links
}

/// The whole plan as it stands now, in the machine-readable forms every page links: its export
/// as one JSON document and as a zip of one CSV per table, and its KPI list as CSV.
fn whole_plan(plan_id: i64, code: &str) -> [Link; 3] {
    [
        link(
            format!("/api/v1/plans/{plan_id}/export"),
            &format!("計画全体・最新の記録（JSON） {code}.json"),
            "application/json",
        ),
        link(
            format!("/api/v1/plans/{plan_id}/export.zip"),
            "表ごとのCSV一式・最新の記録（ZIP）",
            "application/zip",
        ),
        link(
            format!("/api/v1/kpis?plan={plan_id}&limit=all&format=csv"),
            "KPI一覧・最新の記録（CSV）",
            "text/csv",
        ),
    ]
}

/// schema.org `Dataset` for dataset search engines, safe inside a `<script>` element.
fn json_ld(report: &Report, links: &[Link], base_url: &str) -> Result<String, ApiError> {
    let plan = &report.plan.plan;
    let publisher = crate::catalog::publisher(plan);
    let (start, end) = crate::catalog::period(plan);
    let mut dataset = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "Dataset",
        "name": plan.name,
        "description": crate::catalog::description(plan),
        "url": format!("{base_url}/plans/{}", plan.id),
        "identifier": plan.code,
        "inLanguage": "ja",
        "isAccessibleForFree": true,
        "keywords": plan.keywords,
        "publisher": {"@type": "GovernmentOrganization", "name": publisher},
        "creator": {"@type": "GovernmentOrganization", "name": publisher},
        "spatialCoverage": {
            "@type": "Place",
            "name": format!("{}{}", plan.prefecture, plan.municipality_name),
            "sameAs": crate::catalog::area_iri(plan),
            "address": {
                "@type": "PostalAddress",
                "addressRegion": plan.prefecture,
                "addressLocality": plan.municipality_name,
                "addressCountry": "JP",
            },
        },
        "temporalCoverage": format!("{start}/{end}"),
        "dateModified": report.last_change().to_rfc3339(),
        "distribution": links.iter().map(|link| serde_json::json!({
            "@type": "DataDownload",
            "name": link.label,
            "encodingFormat": link.format,
            "contentUrl": format!("{base_url}{}", link.href),
        })).collect::<Vec<_>>(),
    });
    if let Some(licence) = plan.licence_url.clone().or_else(|| plan.licence.clone()) {
        dataset["license"] = licence.into();
    }
    if let Some(published) = &plan.published_on {
        dataset["datePublished"] = published.clone().into();
    }
    let text = serde_json::to_string_pretty(&dataset).map_err(|error| ApiError::Internal(error.to_string()))?;
    // `</script>` inside a string must not end the element.
    Ok(text.replace('<', "\\u003c"))
}

// ---- one KPI ----

pub struct ResultEntry {
    pub heading: String,
    pub value: String,
    pub note: Option<String>,
    pub source: Option<String>,
    pub analysis: Option<String>,
    pub next_steps: Option<String>,
}

pub struct RevisionEntry {
    pub previous: String,
    pub target: String,
    pub reason: String,
    pub revised_at: String,
}

#[derive(Template)]
#[template(path = "kpi.html")]
pub struct KpiPage {
    pub plan_id: i64,
    pub plan_name: String,
    pub goal: (String, String),
    pub measure: String,
    pub initiative: (String, String),
    pub id: i64,
    pub code: String,
    /// The KPI's row of the KPI list as CSV (its code encoded for a query).
    pub csv_href: String,
    pub name: String,
    pub unit: String,
    pub baseline: String,
    pub target: String,
    pub original_target: Option<String>,
    pub achievement: String,
    pub original_achievement: Option<String>,
    pub status: StatusView,
    pub grade: String,
    pub latest: String,
    pub source: Option<String>,
    pub divisions: String,
    pub chart: String,
    pub chart_description: String,
    pub results: Vec<ResultEntry>,
    pub revisions: Vec<RevisionEntry>,
    /// The whole plan's machine-readable forms, which hold this KPI too.
    pub plan_downloads: Vec<Link>,
}

fn measurement(measurement: &Measurement, unit: &str) -> String {
    match &measurement.value_text {
        Some(value) => format!("{} {unit}（{}）", grouped(value), measurement.label),
        None => format!("{NONE}（{}）", measurement.label),
    }
}

fn result_value(result: &KpiResult, unit: &str) -> String {
    match result.status.as_str() {
        NOT_MEASURABLE => cell_text(result),
        _ => format!("{} {unit}", cell_text(result)),
    }
}

impl KpiPage {
    pub fn load(conn: &mut DbConnection, plan_id: i64, kpi_id: i64) -> Result<Self, ApiError> {
        let plan = PlanRecord::load(conn, plan_id)?.plan;
        let kpi: Kpi = KpiRecord::load(conn, kpi_id)?;
        if kpi.plan_id != plan_id {
            return Err(ApiError::not_found("kpi", format!("{kpi_id} of plan {plan_id}")));
        }
        let row = kpi_store::get(conn, kpi_id)?;
        let rows = results::of_kpi(conn, kpi_id)?;
        let chart = result_views::chart_of(&row, &rows);
        let results: Vec<KpiResult> = rows
            .into_iter()
            .map(|result| result_views::view(&row, result))
            .collect();
        let initiative = goal_store::get_initiative(conn, kpi.initiative_id)?;
        let (measure, _) = goal_store::measure_tree(conn, initiative.measure_id)?;
        let (goal, _, _) = goal_store::goal_tree(conn, measure.goal_id)?;
        let divisions: Vec<String> = projects::divisions_of_initiatives(conn, &[initiative.id])?
            .into_iter()
            .map(|division| division.division)
            .collect();
        let unit = kpi.unit.clone();
        let chart_description = format!(
            "{}の推移の折れ線グラフ。基準値{}、目標値{}。{}。各年度の値は下の表のとおりです。",
            kpi.name,
            measurement(&kpi.baseline, &unit),
            measurement(&kpi.target, &unit),
            if results.is_empty() {
                "実績値はまだ記録されていません".to_string()
            } else {
                results
                    .iter()
                    .map(|result| format!("{} {}", result.label, result_value(result, &unit)))
                    .collect::<Vec<_>>()
                    .join("、")
            }
        );
        let original = kpi
            .target_revisions
            .first()
            .map(|first| measurement(&first.previous, &unit));
        Ok(KpiPage {
            plan_id,
            plan_downloads: whole_plan(plan_id, &plan.code).into(),
            plan_name: plan.name,
            goal: (format!("goal-{}", goal.id), format!("基本目標{}", goal.number)),
            measure: report::measure_heading(&measure.into()),
            initiative: (
                format!("initiative-{}", initiative.id),
                report::initiative_heading(&initiative.into()),
            ),
            id: kpi.id,
            csv_href: format!(
                "/api/v1/kpis?plan={plan_id}&code={}&format=csv",
                url::form_urlencoded::byte_serialize(kpi.code.as_bytes()).collect::<String>()
            ),
            code: kpi.code.clone(),
            name: kpi.name.clone(),
            baseline: measurement(&kpi.baseline, &unit),
            target: measurement(&kpi.target, &unit),
            original_achievement: original.as_ref().map(|_| {
                percent(
                    kpi.original_target_progress
                        .as_ref()
                        .and_then(|progress| progress.achievement),
                )
            }),
            original_target: original,
            achievement: percent(kpi.progress.achievement),
            status: kpi.progress.status.into(),
            grade: kpi.progress.grade.clone().unwrap_or_else(|| NONE.to_string()),
            latest: match (kpi.progress.latest_year, &kpi.progress.latest_value_text) {
                (Some(year), Some(value)) => {
                    format!(
                        "{} {unit}（{}）",
                        grouped(value),
                        era::label(year, kpi.target.year_type)
                    )
                }
                (Some(year), None) => format!("測定不能（{}）", era::label(year, kpi.target.year_type)),
                _ => "まだ記録されていません".into(),
            },
            source: kpi.source.clone(),
            divisions: divisions.join("、"),
            chart,
            chart_description,
            results: results
                .iter()
                .rev()
                .map(|result| ResultEntry {
                    heading: result.label.clone(),
                    value: result_value(result, &unit),
                    note: result.note.clone(),
                    source: result.source.clone(),
                    analysis: result.analysis.clone(),
                    next_steps: result.next_steps.clone(),
                })
                .collect(),
            revisions: kpi
                .target_revisions
                .iter()
                .map(|revision: &TargetRevision| RevisionEntry {
                    previous: measurement(&revision.previous, &unit),
                    target: measurement(&revision.target, &unit),
                    reason: revision.reason.clone(),
                    revised_at: report::japan_date(revision.revised_at),
                })
                .collect(),
            unit,
        })
    }
}

// ---- errors ----

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub explanation: &'static str,
    pub detail: String,
    /// Each failing parameter and what is wrong with it, as the API names them.
    pub errors: Vec<(String, String)>,
}

impl ErrorPage {
    pub fn new(status: StatusCode, error: &ApiError) -> Self {
        let (title, explanation) = match status.as_u16() {
            400 => (
                "指定に誤りがあります",
                "アドレスの指定（日付、評価の番号など）を確認してください。",
            ),
            404 => (
                "ページが見つかりません",
                "お探しの計画・指標・評価は見つかりませんでした。アドレスを確認するか、計画の一覧からお探しください。",
            ),
            405 => ("この操作はできません", "このページは表示（GET）のみに対応しています。"),
            429 => (
                "アクセスが集中しています",
                "しばらく待ってから、もう一度お試しください。",
            ),
            503 => ("ただいま表示できません", "しばらく待ってから、もう一度お試しください。"),
            _ if status.is_client_error() => ("表示できません", "アドレスの指定を確認してください。"),
            _ => ("エラーが発生しました", "しばらく待ってから、もう一度お試しください。"),
        };
        let (detail, errors) = error.problem_parts();
        ErrorPage {
            status: status.as_u16(),
            title,
            explanation,
            detail,
            errors: errors.into_iter().map(|error| (error.field, error.message)).collect(),
        }
    }
}

// ---- the vocabulary of the JSON-LD ----

pub struct TermEntry {
    pub term: String,
    /// The well-known term the context maps it to, if any (`schema:name`).
    pub mapped: Option<&'static str>,
    pub kind: String,
    pub classes: String,
    pub description: String,
}

pub struct ClassEntry {
    pub class: &'static str,
    /// What it is, in words.
    pub what: String,
    pub terms: Vec<String>,
}

/// `/vocab`: every class and term of the JSON-LD, one anchor each (the IRIs `@vocab` makes),
/// described as the OpenAPI document describes the fields.
#[derive(Template)]
#[template(path = "vocab.html")]
pub struct VocabularyPage {
    pub classes: Vec<ClassEntry>,
    pub terms: Vec<TermEntry>,
    pub context_href: String,
}

impl VocabularyPage {
    pub fn new() -> Self {
        use crate::linked_data::{known_term, CLASSES, CONTEXT_PATH};
        let document = crate::openapi::document();
        let mut classes = Vec::new();
        let mut terms: Vec<TermEntry> = Vec::new();
        // A page of a collection: its own fields only (its items are the records above).
        let pages = (
            "Collection",
            "一覧の1ページ（items に各レコード）".to_string(),
            "Collection_Kpi",
            false,
        );
        let records = CLASSES.iter().map(|(collection, class, schema)| {
            (*class, format!("/api/v1/{collection}/{{id}} のレコード"), *schema, true)
        });
        for (class, what, schema, nested) in records.chain([pages]) {
            let mut names = Vec::new();
            for (name, description, kind) in fields_of(&document, schema, nested) {
                match terms.iter_mut().find(|entry| entry.term == name) {
                    Some(entry) => entry.classes.push_str(&format!("、{class}")),
                    None => terms.push(TermEntry {
                        mapped: known_term(&name),
                        term: name.clone(),
                        kind,
                        classes: class.to_string(),
                        description,
                    }),
                }
                names.push(name);
            }
            classes.push(ClassEntry {
                class,
                what,
                terms: names,
            });
        }
        terms.sort_by(|a, b| a.term.cmp(&b.term));
        VocabularyPage {
            classes,
            terms,
            context_href: format!("{}{CONTEXT_PATH}", crate::api::API_BASE),
        }
    }
}

/// The fields of a schema of the document and of the objects nested in it (following `$ref`,
/// `allOf`, `oneOf` and array items): name, description, type.
fn fields_of(document: &serde_json::Value, schema: &str, nested: bool) -> Vec<(String, String, String)> {
    use serde_json::Value;
    let schemas = &document["components"]["schemas"];
    let name_of = |node: &Value| {
        node["$ref"]
            .as_str()
            .and_then(|reference| reference.rsplit('/').next())
            .map(str::to_string)
    };
    // The schema a property holds: past a reference, a nullable `oneOf` and an array's items.
    let held = |property: &Value| -> (Option<String>, Value) {
        let mut node = property.clone();
        loop {
            if let Some(options) = node["oneOf"].as_array() {
                node = options
                    .iter()
                    .find(|option| option["type"] != "null")
                    .cloned()
                    .unwrap_or_default();
            } else if node["type"] == "array" {
                node = node["items"].clone();
            } else {
                break;
            }
        }
        match name_of(&node) {
            Some(name) => (Some(name.clone()), schemas[&name].clone()),
            None => (None, node),
        }
    };
    let mut fields: Vec<(String, String, String)> = Vec::new();
    let mut seen = vec![schema.to_string()];
    let mut pending = vec![schemas[schema].clone()];
    while let Some(node) = pending.pop() {
        let node = match name_of(&node) {
            Some(name) => schemas[&name].clone(),
            None => node,
        };
        for part in node["allOf"].as_array().into_iter().flatten() {
            pending.push(part.clone());
        }
        for (name, property) in node["properties"].as_object().into_iter().flatten() {
            let (component, inner) = held(property);
            let kind = match (&component, &inner["type"]) {
                (Some(component), _) => component.clone(),
                (None, Value::String(kind)) => kind.clone(),
                (None, Value::Array(kinds)) => kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|kind| *kind != "null")
                    .collect::<Vec<_>>()
                    .join(" / "),
                _ => "object".into(),
            };
            let kind = if property["type"] == "array" {
                format!("array of {kind}")
            } else {
                kind
            };
            let description = property["description"]
                .as_str()
                .or(inner["description"].as_str())
                .unwrap_or_default()
                .to_string();
            if !fields.iter().any(|(known, _, _)| known == name) {
                fields.push((name.clone(), description, kind));
            }
            if nested && (inner["properties"].is_object() || inner["allOf"].is_array()) {
                let key = component.unwrap_or_else(|| format!("{schema}.{name}"));
                if !seen.contains(&key) {
                    seen.push(key);
                    pending.push(inner);
                }
            }
        }
    }
    fields
}
