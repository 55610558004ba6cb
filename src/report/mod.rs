//! The evaluation report (効果検証): every KPI of a plan, goal by goal, with its baseline, targets,
//! yearly results, achievement, status and grade, and each initiative's projects. One model built
//! from the same views as the JSON (one achievement rule), rendered as web pages (`crate::pages`)
//! and as a workbook (`workbook`).

pub mod workbook;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::api::evaluations::EvaluationSummary;
use crate::api::export::{self, GoalExport};
use crate::api::goals::{Goal, Initiative, InitiativeProject, Measure};
use crate::api::kpis::{Kpi, Measurement, Progress};
use crate::api::plans::{PlanDetail, PlanRecord};
use crate::api::progress::{tally, StatusCounts};
use crate::api::records::Record;
use crate::api::results::KpiResult;
use crate::db::evaluations::{self as evaluation_store, ItemRow};
use crate::db::projects;
use crate::db::results::ResultView;
use crate::db::schema::plans;
use crate::db::DbConnection;
use crate::domain::kpi::decimal_value;
use crate::domain::progress::Status;
use crate::error::ApiError;
use diesel::prelude::*;

/// Which moment the report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Now,
    /// As the results and targets stood then.
    AsOf(NaiveDateTime),
    /// As a frozen evaluation judged the plan (its id).
    Evaluation(i64),
}

/// What the report shows the plan at.
#[derive(Debug)]
pub enum Standing {
    Now,
    AsOf(DateTime<Utc>),
    Evaluation(EvaluationSummary),
}

impl Standing {
    /// What a downloaded file's name says of the moment: nothing for now, `-as-of-2025-03-31`,
    /// `-evaluation-3`.
    pub fn file_suffix(&self) -> String {
        match self {
            Standing::Now => String::new(),
            Standing::AsOf(at) => format!("-as-of-{}", in_japan(*at).format("%Y-%m-%d")),
            Standing::Evaluation(evaluation) => format!("-evaluation-{}", evaluation.id),
        }
    }

    /// What the figures are, as a heading says it: 「令和7年5月1日時点の記録」.
    pub fn describe(&self) -> String {
        match self {
            Standing::Now => "最新の記録".into(),
            Standing::AsOf(at) => format!("{}時点の記録", japan_time(*at)),
            Standing::Evaluation(evaluation) => format!(
                "{}（{}の評価、{}確定）",
                evaluation.title,
                crate::domain::era::label(evaluation.fiscal_year, crate::domain::kpi::YearType::Fiscal),
                japan_date(evaluation.created_at)
            ),
        }
    }
}

/// A basic goal as the document heads it: 「基本目標1　地域の魅力発信…」.
pub fn goal_heading(goal: &Goal) -> String {
    format!("基本目標{}　{}", goal.number, goal.title)
}

/// A measure as the document heads it, by its code: 「1-1　関係人口を創出し…」.
pub fn measure_heading(measure: &Measure) -> String {
    format!("{}　{}", measure.code, measure.title)
}

/// An initiative as the document heads it, with its circled number: 「①　都市間交流の促進」.
pub fn initiative_heading(initiative: &Initiative) -> String {
    let circled = u32::try_from(initiative.number)
        .ok()
        .filter(|number| (1..=20).contains(number))
        .and_then(|number| char::from_u32(0x2460 + number - 1))
        .map_or_else(|| format!("({})", initiative.number), String::from);
    format!("{circled}　{}", initiative.title)
}

/// A moment on Japan's clock (UTC+9, no daylight saving).
pub fn in_japan(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    at.naive_utc() + chrono::TimeDelta::hours(9)
}

/// A moment as a date in Japan, in the Gregorian form of dates on city pages: 2026年6月30日.
pub fn japan_date(at: DateTime<Utc>) -> String {
    in_japan(at).format("%Y年%-m月%-d日").to_string()
}

/// A moment in Japan: the date alone for the end of a day (what `as_of=2026-06-30` means), else
/// with the time.
fn japan_time(at: DateTime<Utc>) -> String {
    let local = in_japan(at);
    if local.format("%H:%M:%S").to_string() == "23:59:59" {
        japan_date(at)
    } else {
        format!("{} {}", japan_date(at), local.format("%H:%M"))
    }
}

#[derive(Debug)]
pub struct Report {
    pub plan: PlanDetail,
    pub standing: Standing,
    /// The years that get a column of results: the plan period and any other year with a result.
    pub years: Vec<i32>,
    pub summary: Summary,
    pub goals: Vec<GoalSection>,
    /// KPIs a frozen evaluation judged that have been deleted since (code and name): counted in
    /// the summary, not in the tables.
    pub removed: Vec<String>,
    /// The plan's frozen evaluations, newest first, to look back at.
    pub evaluations: Vec<EvaluationSummary>,
}

/// How the KPIs of the plan or of a goal stand.
#[derive(Debug)]
pub struct Summary {
    pub kpis: usize,
    pub counts: StatusCounts,
    /// How many KPIs have each grade of the plan's scheme, in the scheme's order.
    pub grades: Vec<(String, usize)>,
    pub mean_achievement: Option<f64>,
}

#[derive(Debug)]
pub struct GoalSection {
    pub goal: Goal,
    pub summary: Summary,
    pub measures: Vec<MeasureSection>,
}

#[derive(Debug)]
pub struct MeasureSection {
    pub measure: Measure,
    pub initiatives: Vec<InitiativeSection>,
}

#[derive(Debug)]
pub struct InitiativeSection {
    pub initiative: Initiative,
    pub kpis: Vec<KpiLine>,
    pub projects: Vec<ProjectLine>,
}

/// A KPI as the report shows it: `kpi.target` and `kpi.progress` are those it was judged by.
#[derive(Debug)]
pub struct KpiLine {
    pub kpi: Kpi,
    /// The original target, where the target had been revised.
    pub original_target: Option<Measurement>,
    /// The achievement against the original target.
    pub original_achievement: Option<f64>,
    /// The results shown, oldest first.
    pub results: Vec<KpiResult>,
    /// The divisions responsible for the initiative's projects (担当課).
    pub divisions: Vec<String>,
}

impl Report {
    /// The newest change of what the report shows: the same data gives the same file.
    pub fn last_change(&self) -> DateTime<Utc> {
        let lines = self
            .goals
            .iter()
            .flat_map(|goal| &goal.measures)
            .flat_map(|measure| &measure.initiatives)
            .flat_map(|initiative| &initiative.kpis);
        lines
            .flat_map(|line| {
                std::iter::once(line.kpi.updated_at).chain(line.results.iter().map(|result| result.updated_at))
            })
            .chain([self.plan.plan.updated_at])
            .max()
            .unwrap_or(self.plan.plan.updated_at)
    }
}

impl KpiLine {
    pub fn result_in(&self, year: i32) -> Option<&KpiResult> {
        self.results.iter().find(|result| result.year == year)
    }
}

/// A project (事業) listed under an initiative.
#[derive(Debug)]
pub struct ProjectLine {
    pub project: InitiativeProject,
    pub divisions: Vec<String>,
}

/// The report of a plan at a moment.
pub fn load(conn: &mut DbConnection, plan_id: i64, moment: Moment) -> Result<Report, ApiError> {
    let plan = PlanRecord::load(conn, plan_id)?;
    let (standing, view, frozen) = match moment {
        Moment::Now => (Standing::Now, ResultView::default(), None),
        Moment::AsOf(at) => (
            Standing::AsOf(at.and_utc()),
            ResultView {
                as_of: Some(at),
                up_to_year: None,
            },
            None,
        ),
        Moment::Evaluation(id) => {
            let (row, items) = evaluation_store::get(conn, plan_id, id)?;
            // The results as they were recorded when it was frozen, up to the year it evaluated;
            // an imported plan's evaluations predate the import, whose results were recorded with it.
            let plan_created: NaiveDateTime = plans::table.find(plan_id).select(plans::created_at).first(conn)?;
            let view = ResultView {
                as_of: Some(row.created_at.max(plan_created)),
                up_to_year: Some(row.fiscal_year),
            };
            let items: HashMap<i64, ItemRow> = items.into_iter().map(|item| (item.kpi_id, item)).collect();
            (Standing::Evaluation(row.into()), view, Some(items))
        }
    };
    let mut goals = Vec::new();
    for goal in export::goal_ids(conn, plan_id)? {
        goals.push(export::goal_export(conn, goal, view)?);
    }
    let divisions = project_divisions(conn, plan_id)?;
    let initiative_ids: Vec<i64> = goals
        .iter()
        .flat_map(|goal| &goal.measures)
        .flat_map(|measure| &measure.initiatives)
        .map(|initiative| initiative.initiative.id)
        .collect();
    let mut initiative_divisions: HashMap<i64, Vec<String>> = HashMap::new();
    for responsible in projects::divisions_of_initiatives(conn, &initiative_ids)? {
        initiative_divisions
            .entry(responsible.initiative_id)
            .or_default()
            .push(responsible.division);
    }
    let scheme: Vec<String> = plan.plan.grading_scheme.iter().map(|step| step.grade.clone()).collect();
    let goals: Vec<GoalSection> = goals
        .into_iter()
        .map(|goal| goal_section(goal, frozen.as_ref(), &divisions, &initiative_divisions, &scheme))
        .collect();
    let lines = goals
        .iter()
        .flat_map(|goal| &goal.measures)
        .flat_map(|measure| &measure.initiatives)
        .flat_map(|initiative| &initiative.kpis);
    let (summary, removed) = match &frozen {
        // The plan's figures are the evaluation's own, KPIs deleted since included.
        Some(items) => {
            let shown: BTreeSet<i64> = lines.map(|line| line.kpi.id).collect();
            let mut frozen_items: Vec<&ItemRow> = items.values().collect();
            frozen_items.sort_by_key(|item| crate::domain::text::code_order(&item.kpi_code));
            let removed = frozen_items
                .iter()
                .filter(|item| !shown.contains(&item.kpi_id))
                .map(|item| format!("{}　{}", item.kpi_code, item.kpi_name))
                .collect();
            let progress = frozen_items.iter().map(|item| {
                let status = item.status.parse().unwrap_or(Status::NoData);
                (status, item.achievement, item.grade.as_deref())
            });
            (summary_of(progress, &scheme), removed)
        }
        None => (summarise(lines, &scheme), Vec::new()),
    };
    let mut years: BTreeSet<i32> = (plan.plan.period_start_year..=plan.plan.period_end_year).collect();
    years.extend(
        goals
            .iter()
            .flat_map(|goal| &goal.measures)
            .flat_map(|measure| &measure.initiatives)
            .flat_map(|initiative| &initiative.kpis)
            .flat_map(|line| line.results.iter().map(|result| result.year)),
    );
    let mut evaluations: Vec<EvaluationSummary> = evaluation_store::list(conn, plan_id, export::everything())?
        .items
        .into_iter()
        .map(Into::into)
        .collect();
    evaluations.reverse();
    Ok(Report {
        plan,
        standing,
        years: years.into_iter().collect(),
        summary,
        goals,
        removed,
        evaluations,
    })
}

/// The divisions of each project of the plan, by project id.
fn project_divisions(conn: &mut DbConnection, plan_id: i64) -> Result<HashMap<i64, Vec<String>>, ApiError> {
    Ok(export::projects(conn, plan_id)?
        .into_iter()
        .map(|project| {
            let names = project.divisions.into_iter().map(|division| division.name).collect();
            (project.id, names)
        })
        .collect())
}

fn goal_section(
    goal: GoalExport,
    frozen: Option<&HashMap<i64, ItemRow>>,
    project_divisions: &HashMap<i64, Vec<String>>,
    initiative_divisions: &HashMap<i64, Vec<String>>,
    scheme: &[String],
) -> GoalSection {
    let measures: Vec<MeasureSection> = goal
        .measures
        .into_iter()
        .map(|measure| MeasureSection {
            measure: measure.measure,
            initiatives: measure
                .initiatives
                .into_iter()
                .map(|initiative| {
                    let divisions = initiative_divisions
                        .get(&initiative.initiative.id)
                        .cloned()
                        .unwrap_or_default();
                    InitiativeSection {
                        kpis: initiative
                            .kpis
                            .into_iter()
                            .filter_map(|kpi| {
                                let line = KpiLine::current(kpi.kpi, kpi.results, divisions.clone());
                                match frozen {
                                    // A KPI added after the evaluation was not part of it.
                                    Some(items) => items.get(&line.kpi.id).map(|item| line.judged_by(item)),
                                    None => Some(line),
                                }
                            })
                            .collect(),
                        projects: initiative
                            .project_appearances
                            .into_iter()
                            .map(|project| ProjectLine {
                                divisions: project_divisions.get(&project.project_id).cloned().unwrap_or_default(),
                                project,
                            })
                            .collect(),
                        initiative: initiative.initiative,
                    }
                })
                .collect(),
        })
        .collect();
    let summary = summarise(
        measures
            .iter()
            .flat_map(|measure| &measure.initiatives)
            .flat_map(|initiative| &initiative.kpis),
        scheme,
    );
    GoalSection {
        goal: goal.goal,
        summary,
        measures,
    }
}

impl KpiLine {
    fn current(kpi: Kpi, results: Vec<KpiResult>, divisions: Vec<String>) -> Self {
        KpiLine {
            original_target: kpi
                .target_revisions
                .first()
                .map(|first| clone_measurement(&first.previous)),
            original_achievement: kpi
                .original_target_progress
                .as_ref()
                .and_then(|progress| progress.achievement),
            kpi,
            results,
            divisions,
        }
    }

    /// The KPI as a frozen evaluation judged it: its target, result, achievement and grade then.
    fn judged_by(mut self, item: &ItemRow) -> Self {
        let year_type = self.kpi.target.year_type.as_str();
        self.kpi.code = item.kpi_code.clone();
        self.kpi.name = item.kpi_name.clone();
        self.kpi.unit = item.unit.clone();
        self.kpi.baseline = Measurement::new(
            item.baseline_value.clone(),
            self.kpi.baseline.year,
            self.kpi.baseline.year_type.as_str(),
        );
        self.kpi.target = Measurement::new(
            item.target_value.clone(),
            item.target_year.unwrap_or(self.kpi.target.year),
            year_type,
        );
        self.kpi.progress = Progress {
            latest_year: item.result_year,
            latest_value: item.result_value.as_deref().and_then(decimal_value),
            latest_value_text: item.result_value.clone(),
            achievement: item.achievement,
            expected: item.expected,
            status: item.status.parse().unwrap_or(Status::NoData),
            grade: item.grade.clone(),
        };
        self.original_target = item
            .original_target_year
            .map(|year| Measurement::new(item.original_target_value.clone(), year, year_type));
        self.original_achievement = item.original_achievement;
        self
    }
}

fn clone_measurement(measurement: &Measurement) -> Measurement {
    Measurement::new(
        measurement.value_text.clone(),
        measurement.year,
        measurement.year_type.as_str(),
    )
}

fn summarise<'a>(lines: impl Iterator<Item = &'a KpiLine>, scheme: &[String]) -> Summary {
    summary_of(
        lines.map(|line| {
            let progress = &line.kpi.progress;
            (progress.status, progress.achievement, progress.grade.as_deref())
        }),
        scheme,
    )
}

/// Counts statuses and grades and averages the achievements of KPIs.
fn summary_of<'a>(
    progress: impl Iterator<Item = (Status, Option<f64>, Option<&'a str>)>,
    scheme: &[String],
) -> Summary {
    let progress: Vec<_> = progress.collect();
    let (counts, mean_achievement) = tally(progress.iter().map(|(status, achievement, _)| (*status, *achievement)));
    let grades = scheme
        .iter()
        .map(|grade| {
            let count = progress.iter().filter(|(_, _, of)| *of == Some(grade.as_str())).count();
            (grade.clone(), count)
        })
        .collect();
    Summary {
        kpis: progress.len(),
        counts,
        grades,
        mean_achievement,
    }
}
