//! Progress of a KPI from its latest yearly result: achievement, expected rate, status and grade.
//!
//! - `increase` / `decrease`: achievement = (result − baseline) / (target − baseline); 1.0 is the
//!   target met; below 0 or above 1 is reported as it is.
//! - `maintain` (target equals baseline): 1.0 while the result is at least the target, otherwise
//!   result / target.
//! - no baseline ("—"): achievement = result / target.
//! - cumulative KPIs: the result is the running total the city reports, so the same formulas hold.
//! - expected rate: linear from the baseline year (0) to the target year (1), at the result's year
//!   (1 throughout for `maintain`).
//! - status: `achieved` (achievement ≥ 1), `on_track` (≥ expected), `behind`, `no_data` (no result),
//!   `not_measurable` (the latest result was recorded as not measurable).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kpi::Direction;

/// Where a KPI stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Achieved,
    OnTrack,
    Behind,
    NoData,
    NotMeasurable,
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Status::ALL.iter().map(|status| status.as_str()).collect();
                format!("`{text}` is not one of: {}", names.join(", "))
            })
    }
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Achieved,
        Status::OnTrack,
        Status::Behind,
        Status::NoData,
        Status::NotMeasurable,
    ];

    /// The status as the city's report writes it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Achieved => "達成",
            Status::OnTrack => "順調",
            Status::Behind => "遅れ",
            Status::NoData => "未把握",
            Status::NotMeasurable => "測定不能",
        }
    }

    /// A mark beside the label, so that print in black and white and readers who cannot tell
    /// colours apart see the status too.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Achieved => "◎",
            Status::OnTrack => "○",
            Status::Behind => "△",
            Status::NoData => "－",
            Status::NotMeasurable => "×",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Achieved => "achieved",
            Status::OnTrack => "on_track",
            Status::Behind => "behind",
            Status::NoData => "no_data",
            Status::NotMeasurable => "not_measurable",
        }
    }
}

/// What the computation needs of a KPI.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub direction: Direction,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    pub baseline_year: i32,
    pub target_year: i32,
}

/// The latest recorded result: a value, or not measurable that year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latest {
    Value { year: i32, value: f64 },
    NotMeasurable { year: i32 },
}

/// The computed progress (rates rounded to 4 places).
#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub achievement: Option<f64>,
    pub expected: Option<f64>,
    pub status: Status,
}

pub fn compute(plan: &Plan, latest: Option<Latest>) -> Computed {
    let (year, value) = match latest {
        None => return computed(None, None, Status::NoData),
        Some(Latest::NotMeasurable { year }) => {
            return computed(None, Some(expected(plan, year)), Status::NotMeasurable)
        }
        Some(Latest::Value { year, value }) => (year, value),
    };
    let expected = round4(expected(plan, year));
    let Some(achievement) = achievement(plan, value) else {
        return computed(None, Some(expected), Status::NoData);
    };
    // The status is judged on the rates as reported, so that what a reader sees agrees with it;
    // a result a hair short of the target reports 0.9999, never a rounded-up 1.
    let achievement = if achievement < 1.0 {
        round4(achievement).min(0.9999)
    } else {
        round4(achievement)
    };
    let status = if achievement >= 1.0 {
        Status::Achieved
    } else if achievement >= expected {
        Status::OnTrack
    } else {
        Status::Behind
    };
    computed(Some(achievement), Some(expected), status)
}

fn computed(achievement: Option<f64>, expected: Option<f64>, status: Status) -> Computed {
    Computed {
        achievement: achievement.map(round4),
        expected: expected.map(round4),
        status,
    }
}

fn achievement(plan: &Plan, result: f64) -> Option<f64> {
    let target = plan.target?;
    match (plan.direction, plan.baseline) {
        (_, None) if target != 0.0 => Some(result / target),
        (_, None) => None,
        (Direction::Maintain, Some(_)) => {
            if result >= target {
                Some(1.0)
            } else if target != 0.0 {
                Some(result / target)
            } else {
                None
            }
        }
        (_, Some(baseline)) if target != baseline => Some((result - baseline) / (target - baseline)),
        (_, Some(_)) => Some(if result >= target { 1.0 } else { 0.0 }),
    }
}

/// 0 at the baseline year, 1 at the target year, linear between (clamped).
pub fn expected(plan: &Plan, year: i32) -> f64 {
    if plan.direction == Direction::Maintain || plan.target_year <= plan.baseline_year {
        return 1.0;
    }
    let span = f64::from(plan.target_year - plan.baseline_year);
    (f64::from(year - plan.baseline_year) / span).clamp(0.0, 1.0)
}

fn round4(rate: f64) -> f64 {
    (rate * 10_000.0).round() / 10_000.0
}

/// One step of a grading scheme: the grade of achievements at or above `min` (null: any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeStep {
    #[schema(example = "A", min_length = 1, max_length = 10)]
    pub grade: String,
    /// Lowest achievement rate of this grade; null for the last, catch-all grade.
    #[schema(example = 1.0)]
    pub min: Option<f64>,
}

/// Most grades a scheme may have.
pub const MAX_GRADES: usize = 10;

/// A grade is 1 to 10 characters, not blank, without whitespace at either end or control
/// characters: what `validate::text_pattern(10)` states in the document.
pub fn grade_text_fits(grade: &str) -> bool {
    let count = grade.chars().count();
    (1..=10).contains(&count) && grade.trim() == grade && !grade.chars().any(char::is_control)
}

/// The grades a city gives by default: A (target met), B (80 % or more), C (50 % or more), D.
pub fn default_scheme() -> Vec<GradeStep> {
    [("A", Some(1.0)), ("B", Some(0.8)), ("C", Some(0.5)), ("D", None)]
        .into_iter()
        .map(|(grade, min)| GradeStep {
            grade: grade.into(),
            min,
        })
        .collect()
}

/// The grade of an achievement rate: the first step whose threshold it reaches.
pub fn grade(scheme: &[GradeStep], achievement: Option<f64>) -> Option<String> {
    let achievement = achievement?;
    scheme
        .iter()
        .find(|step| step.min.is_none_or(|min| achievement >= min))
        .map(|step| step.grade.clone())
}

/// Why a scheme is unusable, if it is: steps in descending order, the last one catch-all.
pub fn scheme_problem(scheme: &[GradeStep]) -> Option<String> {
    if scheme.is_empty() || scheme.len() > MAX_GRADES {
        return Some(format!("must have 1 to {MAX_GRADES} grades"));
    }
    if scheme.last().is_some_and(|step| step.min.is_some()) {
        return Some("the last grade must have `min: null`, so that every achievement gets a grade".into());
    }
    let mut previous = f64::INFINITY;
    for (index, step) in scheme.iter().enumerate() {
        if !grade_text_fits(&step.grade) {
            return Some(format!(
                "grade {index} must be 1 to 10 characters without surrounding spaces or control characters"
            ));
        }
        if scheme[..index].iter().any(|other| other.grade == step.grade) {
            return Some(format!("grade `{}` appears twice", step.grade));
        }
        if let Some(min) = step.min {
            if !min.is_finite() || min >= previous {
                return Some("thresholds must be finite and strictly descending".into());
            }
            previous = min;
        } else if index + 1 != scheme.len() {
            return Some("only the last grade may have `min: null`".into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(direction: Direction, baseline: Option<f64>, target: f64, years: (i32, i32)) -> Plan {
        Plan {
            direction,
            baseline,
            target: Some(target),
            baseline_year: years.0,
            target_year: years.1,
        }
    }

    fn value(year: i32, value: f64) -> Option<Latest> {
        Some(Latest::Value { year, value })
    }

    #[test]
    fn increase_worked_example() {
        // 国内友好都市との交流活動件数: 22 (2019) → 30 (2026). 26 in 2022: (26−22)/(30−22) = 0.5,
        // expected (2022−2019)/(2026−2019) = 0.4286: on track.
        let kpi = plan(Direction::Increase, Some(22.0), 30.0, (2019, 2026));
        assert_eq!(
            compute(&kpi, value(2022, 26.0)),
            Computed {
                achievement: Some(0.5),
                expected: Some(0.4286),
                status: Status::OnTrack
            }
        );
        // 23 in 2024: 0.125 against an expected 0.7143: behind.
        assert_eq!(compute(&kpi, value(2024, 23.0)).status, Status::Behind);
        // 31 in 2025: 1.125, reported as it is: achieved.
        assert_eq!(
            compute(&kpi, value(2025, 31.0)),
            Computed {
                achievement: Some(1.125),
                expected: Some(0.8571),
                status: Status::Achieved
            }
        );
        // 20 in 2021: below the baseline, −0.25, reported as it is.
        assert_eq!(compute(&kpi, value(2021, 20.0)).achievement, Some(-0.25));
    }

    #[test]
    fn decrease_worked_example() {
        // 刑法犯認知件数: 1,259 (2019) → 531 (2026). 900 in 2022: (900−1259)/(531−1259) = 0.4931,
        // expected 0.4286: on track. 1,300 is worse than the baseline: −0.0563, behind.
        let kpi = plan(Direction::Decrease, Some(1259.0), 531.0, (2019, 2026));
        assert_eq!(
            compute(&kpi, value(2022, 900.0)),
            Computed {
                achievement: Some(0.4931),
                expected: Some(0.4286),
                status: Status::OnTrack
            }
        );
        let worse = compute(&kpi, value(2022, 1300.0));
        assert_eq!((worse.achievement, worse.status), (Some(-0.0563), Status::Behind));
        assert_eq!(compute(&kpi, value(2026, 500.0)).status, Status::Achieved);
    }

    #[test]
    fn maintain_worked_example() {
        // 空店舗対策事業補助金交付申請店舗数: 8 (2020) → 8 (2026). Met while at least 8.
        let kpi = plan(Direction::Maintain, Some(8.0), 8.0, (2020, 2026));
        assert_eq!(
            compute(&kpi, value(2022, 8.0)),
            Computed {
                achievement: Some(1.0),
                expected: Some(1.0),
                status: Status::Achieved
            }
        );
        assert_eq!(
            compute(&kpi, value(2022, 6.0)),
            Computed {
                achievement: Some(0.75),
                expected: Some(1.0),
                status: Status::Behind
            }
        );
    }

    #[test]
    fn no_baseline_worked_example() {
        // 第7次行政改革の推進度: — (2020) → 100% (2026). 45% in 2023: 45/100 = 0.45, expected 0.5: behind.
        let kpi = plan(Direction::Increase, None, 100.0, (2020, 2026));
        assert_eq!(
            compute(&kpi, value(2023, 45.0)),
            Computed {
                achievement: Some(0.45),
                expected: Some(0.5),
                status: Status::Behind
            }
        );
        assert_eq!(compute(&kpi, value(2024, 70.0)).status, Status::OnTrack);
    }

    #[test]
    fn cumulative_results_are_running_totals() {
        // 住宅取得等支援事業による転入者数(累計): 101 (2019) → 1,320 (2026); 700 by 2022:
        // (700−101)/(1320−101) = 0.4914 against 0.4286: on track.
        let kpi = plan(Direction::Increase, Some(101.0), 1320.0, (2019, 2026));
        assert_eq!(compute(&kpi, value(2022, 700.0)).achievement, Some(0.4914));
    }

    #[test]
    fn no_result_and_not_measurable() {
        let kpi = plan(Direction::Increase, Some(22.0), 30.0, (2019, 2026));
        assert_eq!(compute(&kpi, None).status, Status::NoData);
        let skipped = compute(&kpi, Some(Latest::NotMeasurable { year: 2021 }));
        assert_eq!((skipped.achievement, skipped.status), (None, Status::NotMeasurable));
    }

    #[test]
    fn expected_rate_is_linear_and_clamped() {
        let kpi = plan(Direction::Increase, Some(0.0), 10.0, (2020, 2026));
        assert_eq!(expected(&kpi, 2020), 0.0);
        assert_eq!(expected(&kpi, 2023), 0.5);
        assert_eq!(expected(&kpi, 2026), 1.0);
        assert_eq!(expected(&kpi, 2030), 1.0);
    }

    #[test]
    fn grades_follow_the_scheme() {
        let scheme = default_scheme();
        assert_eq!(scheme_problem(&scheme), None);
        assert_eq!(grade(&scheme, Some(1.125)).as_deref(), Some("A"));
        assert_eq!(grade(&scheme, Some(0.8)).as_deref(), Some("B"));
        assert_eq!(grade(&scheme, Some(0.4931)).as_deref(), Some("D"));
        assert_eq!(grade(&scheme, Some(-0.25)).as_deref(), Some("D"));
        assert_eq!(grade(&scheme, None), None);
        let marks: Vec<GradeStep> = serde_json::from_str(
            r#"[{"grade":"◎","min":1.0},{"grade":"○","min":0.6},{"grade":"△","min":0.3},{"grade":"×","min":null}]"#,
        )
        .unwrap();
        assert_eq!(scheme_problem(&marks), None);
        assert_eq!(grade(&marks, Some(0.6)).as_deref(), Some("○"));
    }

    #[test]
    fn unusable_schemes_are_explained() {
        let step = |grade: &str, min: Option<f64>| GradeStep {
            grade: grade.into(),
            min,
        };
        assert!(scheme_problem(&[]).is_some());
        assert!(scheme_problem(&[step("A", Some(1.0))]).unwrap().contains("last grade"));
        assert!(
            scheme_problem(&[step("A", Some(0.5)), step("B", Some(0.8)), step("C", None)])
                .unwrap()
                .contains("descending")
        );
        assert!(scheme_problem(&[step("A", Some(1.0)), step("A", None)])
            .unwrap()
            .contains("twice"));
        assert!(scheme_problem(&[step("A", None), step("B", None)]).is_some());
        assert!(scheme_problem(&[step(" ", None)]).is_some());
    }
}
