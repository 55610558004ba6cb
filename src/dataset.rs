//! The canonical dataset (`data/*.json`): the source document as reviewable, diffable data.

use serde::Deserialize;

use crate::domain::kpi::YearType;

/// The strategy as published, compiled into the binary so that `seed` works from any directory.
pub const ATSUGI_2: &str = include_str!("../data/atsugi-2.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub plan: Plan,
    pub departments: Vec<Department>,
    pub goals: Vec<Goal>,
    pub projects: Vec<Project>,
    pub normalisations: Vec<Normalisation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub code: String,
    pub name: String,
    pub document_title: String,
    pub municipality_code: String,
    pub municipality_name: String,
    pub prefecture: String,
    pub period_start_year: i32,
    pub period_end_year: i32,
    /// Who publishes the data set.
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub published_on: Option<String>,
    #[serde(default)]
    pub licence: Option<String>,
    #[serde(default)]
    pub licence_url: Option<String>,
    /// For data catalogues: what the data set holds, its keywords and whom to ask.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    #[serde(default)]
    pub contact_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: String,
    pub name: String,
    pub divisions: Vec<Division>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Division {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    pub code: String,
    pub number: i32,
    pub category: String,
    pub title: String,
    pub measures: Vec<Measure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub code: String,
    pub number: i32,
    pub title: String,
    pub initiatives: Vec<Initiative>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Initiative {
    pub code: String,
    pub number: i32,
    pub title: String,
    pub kpis: Vec<Kpi>,
    pub projects: Vec<Appearance>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub cumulative: bool,
    pub baseline: Measurement,
    pub target: Measurement,
}

/// A baseline or a target as published: the exact decimal (or null for "—"), and its year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub value: Option<String>,
    pub year: i32,
    pub year_type: YearType,
}

/// One row of an initiative's project table: which project, described how at this place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appearance {
    pub project: String,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub code: String,
    pub name: String,
    pub account: Option<String>,
    pub divisions: Vec<String>,
}

/// A correction of an evident typo, with the form the city published.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    pub record: String,
    pub field: String,
    pub published: String,
    pub normalised: String,
    pub reason: String,
}

impl Dataset {
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn atsugi_2() -> Self {
        Self::parse(ATSUGI_2).expect("the bundled dataset is valid JSON of the dataset format")
    }
}
