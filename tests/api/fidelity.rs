//! Fidelity to the published document: the source text is parsed here, independently of the
//! dataset the service is seeded from, and every goal, measure, initiative, KPI, project
//! appearance, project, department and division the API serves is compared with it.
//!
//! Only PDF artefacts are removed from the source cells (`<p>` markup, stray whitespace, paragraph
//! breaks become "\n"), and the corrections the plan declares (GET /plans/1) are applied to the
//! cells they name, after checking that their published form really is in the document. Nothing
//! else may differ.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

const SOURCE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/source/atsugi-strategy-2-kpi-and-projects.txt"
);

// ---------------------------------------------------------------------------------------------
// The document, parsed
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Source {
    /// The raw text of the document.
    text: String,
    goals: Vec<Goal>,
    measures: Vec<Measure>,
    initiatives: Vec<Initiative>,
}

#[derive(Debug, Clone)]
struct Goal {
    number: u32,
    category: String,
    title: String,
}

#[derive(Debug, Clone)]
struct Measure {
    code: String,
    number: u32,
    title: String,
}

#[derive(Debug, Clone)]
struct Initiative {
    code: String,
    number: u32,
    title: String,
    kpis: Vec<Kpi>,
    rows: Vec<ProjectRow>,
}

#[derive(Debug, Clone)]
struct Kpi {
    name: String,
    /// The value cells as found, in any order (the source sometimes swaps or splits them).
    readings: Vec<Reading>,
}

#[derive(Debug, Clone)]
struct Reading {
    /// The published number without thousands separators; `None` for "—".
    value_text: Option<String>,
    unit: String,
    year: i64,
    year_type: &'static str,
    /// The year as written, e.g. "令和元(2019)年度".
    label: String,
}

/// One row of an initiative's project table.
#[derive(Debug, Clone)]
struct ProjectRow {
    name: String,
    account: Option<String>,
    description: String,
    /// (division, department), in the order written.
    divisions: Vec<(String, String)>,
}

impl Kpi {
    /// The baseline and target: the earlier year is the baseline, whatever order the cells are in.
    fn baseline_and_target(&self) -> (&Reading, &Reading) {
        assert_eq!(self.readings.len(), 2, "KPI {}: two values in the source", self.name);
        let (a, b) = (&self.readings[0], &self.readings[1]);
        assert_ne!(a.year, b.year, "KPI {}: baseline and target years differ", self.name);
        if a.year < b.year {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// The unit, written after each value that has one (not after "—").
    fn unit(&self) -> String {
        let units: BTreeSet<&str> = self
            .readings
            .iter()
            .map(|reading| reading.unit.as_str())
            .filter(|unit| !unit.is_empty())
            .collect();
        assert_eq!(
            units.len(),
            1,
            "KPI {}: one unit in the source, found {units:?}",
            self.name
        );
        units.into_iter().next().unwrap().to_string()
    }
}

impl Source {
    fn load() -> Source {
        let text = std::fs::read_to_string(SOURCE_PATH)
            .unwrap_or_else(|error| panic!("source document {SOURCE_PATH}: {error}"));
        parse(text)
    }

    fn initiative(&self, code: &str) -> &Initiative {
        self.initiatives
            .iter()
            .find(|initiative| initiative.code == code)
            .unwrap_or_else(|| panic!("initiative {code} is not in the source"))
    }

    fn rows(&self) -> impl Iterator<Item = (&Initiative, &ProjectRow)> {
        self.initiatives
            .iter()
            .flat_map(|initiative| initiative.rows.iter().map(move |row| (initiative, row)))
    }

    /// Project names in order of first appearance.
    fn project_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, row) in self.rows() {
            if !names.contains(&row.name) {
                names.push(row.name.clone());
            }
        }
        names
    }

    /// (division, department) pairs in order of first appearance.
    fn division_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (_, row) in self.rows() {
            for pair in &row.divisions {
                if !pairs.contains(pair) {
                    pairs.push(pair.clone());
                }
            }
        }
        pairs
    }
}

/// Whitespace inside a cell is a PDF artefact: runs are removed, except between two ASCII letters
/// or digits, where they become one space.
fn squeeze(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            while chars.peek().is_some_and(|next| next.is_whitespace()) {
                chars.next();
            }
            let before = out.chars().last();
            let after = chars.peek().copied();
            if before.is_some_and(|b| b.is_ascii_alphanumeric()) && after.is_some_and(|a| a.is_ascii_alphanumeric()) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A text cell, cleaned: `<p>` markup removed, paragraph breaks ("</p> <p>", or a space after
/// "。" followed by more text) become "\n", other whitespace is squeezed.
fn clean(cell: &str) -> String {
    let paragraph_markup = Regex::new(r"</p>\s*<p>").unwrap();
    let sentence_break = Regex::new(r"。\s+").unwrap();
    let text = paragraph_markup.replace_all(cell, "\n");
    let text = text.replace("<p>", "").replace("</p>", "");
    let text = sentence_break.replace_all(text.trim(), "。\n");
    text.split('\n').map(squeeze).collect::<Vec<_>>().join("\n")
}

/// A division cell: one or more "課名 (部名)", possibly each in its own `<p>`.
fn divisions(cell: &str, line: usize) -> Vec<(String, String)> {
    let pair = Regex::new(r"\s*([^()]+?)\s*\(([^()]+)\)").unwrap();
    let text = cell.replace("<p>", " ").replace("</p>", " ");
    let found: Vec<(String, String)> = pair
        .captures_iter(&text)
        .map(|c| (squeeze(&c[1]), squeeze(&c[2])))
        .collect();
    let rest = pair.replace_all(&text, "");
    assert!(
        rest.trim().is_empty() && !found.is_empty(),
        "line {line}: division cell not understood: {cell}"
    );
    found
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Section {
    Preamble,
    Heading,
    Kpis,
    Projects,
}

fn parse(text: String) -> Source {
    let goal_re = Regex::new(r"^基本目標\s*(\d+)\s*\((.+)\)$").unwrap();
    let numbered_re = Regex::new(r"^(\d+)\s*(.+)$").unwrap();
    let circled_re = Regex::new(r"^([①-⑳])\s*(.+)$").unwrap();
    let value_re =
        Regex::new(r"^(—|\d[\d,]*(?:\.\d+)?)\s*([^(]*?)\s*\((令和\s*(元|\d+)\s*\((\d{4})\)\s*(年度|年))\)$").unwrap();
    let account_re = Regex::new(r"^(.*?)\s*【([^【】]+)】$").unwrap();

    let mut goals: Vec<Goal> = Vec::new();
    let mut measures: Vec<Measure> = Vec::new();
    let mut initiatives: Vec<Initiative> = Vec::new();
    let mut section = Section::Preamble;

    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let cells: Vec<&str> = line
            .split('\t')
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .collect();
        let Some(&head) = cells.first() else { continue };

        if let Some(goal) = goal_re.captures(head) {
            assert_eq!(cells.len(), 2, "line {line_no}: goal line");
            let number: u32 = goal[1].parse().unwrap();
            assert_eq!(
                number as usize,
                goals.len() + 1,
                "line {line_no}: goals numbered in order"
            );
            goals.push(Goal {
                number,
                category: squeeze(&goal[2]),
                title: clean(cells[1]),
            });
            section = Section::Heading;
            continue;
        }
        if section == Section::Preamble {
            continue;
        }
        if head == "具体的な施策" {
            assert_eq!(cells.len(), 2, "line {line_no}: measure line");
            let measure = numbered_re.captures(cells[1]).expect("numbered measure");
            let number: u32 = measure[1].parse().unwrap();
            let goal = goals.last().unwrap().number;
            let previous = measures
                .iter()
                .filter(|m| m.code.starts_with(&format!("{goal}-")))
                .count();
            assert_eq!(
                number as usize,
                previous + 1,
                "line {line_no}: measures numbered in order"
            );
            measures.push(Measure {
                code: format!("{goal}-{number}"),
                number,
                title: clean(&measure[2]),
            });
            section = Section::Heading;
            continue;
        }
        if head == "主な取組" {
            assert_eq!(cells.len(), 2, "line {line_no}: initiative line");
            let initiative = circled_re.captures(cells[1]).expect("initiative with a circled number");
            let number = initiative[1].chars().next().unwrap() as u32 - '①' as u32 + 1;
            let measure = &measures.last().unwrap().code;
            let previous = initiatives
                .iter()
                .filter(|i| i.code.starts_with(&format!("{measure}-")))
                .count();
            assert_eq!(
                number as usize,
                previous + 1,
                "line {line_no}: initiatives numbered in order"
            );
            initiatives.push(Initiative {
                code: format!("{measure}-{number}"),
                number,
                title: clean(&initiative[2]),
                kpis: Vec::new(),
                rows: Vec::new(),
            });
            section = Section::Heading;
            continue;
        }
        if cells.iter().any(|cell| cell.starts_with("重要業績評価指標")) {
            section = Section::Kpis;
            continue;
        }
        if head == "事業名" {
            assert_eq!(
                cells,
                ["事業名", "事業内容", "担当課等 (部等)"],
                "line {line_no}: project header"
            );
            section = Section::Projects;
            continue;
        }

        let initiative = initiatives
            .last_mut()
            .unwrap_or_else(|| panic!("line {line_no}: outside an initiative"));
        match section {
            Section::Kpis => {
                let mut names = Vec::new();
                let mut readings = Vec::new();
                for cell in cells
                    .iter()
                    .copied()
                    .filter(|cell| *cell != "現状値" && *cell != "目標値")
                {
                    match value_re.captures(cell) {
                        Some(value) => {
                            let era: i64 = if &value[4] == "元" {
                                1
                            } else {
                                value[4].parse().unwrap()
                            };
                            let year: i64 = value[5].parse().unwrap();
                            assert_eq!(2018 + era, year, "line {line_no}: 令和 year matches {year}");
                            readings.push(Reading {
                                value_text: (&value[1] != "—").then(|| value[1].replace(',', "")),
                                unit: squeeze(&value[2]),
                                year,
                                year_type: if &value[6] == "年度" { "fiscal" } else { "calendar" },
                                label: squeeze(&value[3]),
                            });
                        }
                        None => names.push(clean(cell)),
                    }
                }
                assert!(names.len() <= 1, "line {line_no}: one KPI per line, found {names:?}");
                if let Some(name) = names.pop() {
                    initiative.kpis.push(Kpi {
                        name,
                        readings: Vec::new(),
                    });
                }
                if !readings.is_empty() {
                    let kpi = initiative
                        .kpis
                        .last_mut()
                        .unwrap_or_else(|| panic!("line {line_no}: values without a KPI"));
                    kpi.readings.extend(readings);
                }
            }
            Section::Projects => {
                assert_eq!(
                    cells.len(),
                    3,
                    "line {line_no}: a project row has name, description, divisions"
                );
                let (name, account) = match account_re.captures(cells[0]) {
                    Some(c) => (squeeze(&c[1]), Some(squeeze(&c[2]))),
                    None => (squeeze(cells[0]), None),
                };
                initiative.rows.push(ProjectRow {
                    name,
                    account,
                    description: clean(cells[1]),
                    divisions: divisions(cells[2], line_no),
                });
            }
            Section::Heading | Section::Preamble => {
                panic!("line {line_no}: not understood: {line}")
            }
        }
    }

    for initiative in &initiatives {
        for kpi in &initiative.kpis {
            kpi.baseline_and_target();
            kpi.unit();
        }
    }
    Source {
        text,
        goals,
        measures,
        initiatives,
    }
}

// ---------------------------------------------------------------------------------------------
// The corrections the plan declares, applied to the source
// ---------------------------------------------------------------------------------------------

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} is a string: {value}"))
}

/// The one item of a collection with this code.
async fn by_code(app: &TestApp, collection: &str, code: &str) -> Value {
    let page = app.json(&format!("/api/v1/{collection}?code={code}")).await;
    assert_eq!(page["total"], 1, "{collection} with code {code}");
    page["items"][0].clone()
}

async fn corrections(app: &TestApp) -> Vec<Value> {
    let plan = app.json("/api/v1/plans/1").await;
    plan["corrections"]
        .as_array()
        .expect("the plan lists its corrections")
        .clone()
}

/// The source with each declared correction applied to the cell it names. Every correction must
/// change the cell it names: one that matches nothing is an error.
async fn expected(app: &TestApp) -> Source {
    let mut source = Source::load();
    for correction in corrections(app).await {
        let record = string(&correction["record"], "correction record");
        let field = string(&correction["field"], "correction field");
        let published = string(&correction["published"], "correction published");
        let normalised = string(&correction["normalised"], "correction normalised");
        assert!(
            source.text.contains(published),
            "correction of {record} {field}: published form {published:?} is not in the source"
        );
        let words: Vec<&str> = record.split(' ').collect();
        let mut changed = 0;
        match (words.as_slice(), field) {
            (["division", code], "department") => {
                let division = by_code(app, "divisions", code).await;
                let name = string(&division["name"], "division name");
                for initiative in &mut source.initiatives {
                    for row in &mut initiative.rows {
                        for (division, department) in &mut row.divisions {
                            if division.as_str() == name && department.contains(published) {
                                *department = department.replace(published, normalised);
                                changed += 1;
                            }
                        }
                    }
                }
            }
            (["appearance", initiative_code, project], "description") => {
                let project = by_code(app, "projects", project).await;
                let name = string(&project["name"], "project name");
                for initiative in source.initiatives.iter_mut().filter(|i| i.code == *initiative_code) {
                    for row in initiative.rows.iter_mut().filter(|row| row.name == name) {
                        if row.description.contains(published) {
                            row.description = row.description.replace(published, normalised);
                            changed += 1;
                        }
                    }
                }
            }
            _ => panic!("correction of {record} {field}: this test does not know such a record; extend it"),
        }
        assert!(
            changed > 0,
            "correction of {record} {field}: {published:?} does not occur in that record's source cell"
        );
    }
    source
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// Map of code → item.
fn by_codes(items: &[Value], what: &str) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for item in items {
        let code = string(&item["code"], &format!("{what} code")).to_string();
        assert!(
            map.insert(code.clone(), item.clone()).is_none(),
            "{what} {code} listed twice"
        );
    }
    map
}

fn ids_by_code(items: &BTreeMap<String, Value>) -> HashMap<String, i64> {
    items
        .iter()
        .map(|(code, item)| (code.clone(), item["id"].as_i64().expect("id")))
        .collect()
}

on_both_backends! {
    /// Every goal, measure and initiative is the document's: same codes, numbers, categories,
    /// titles and parents, nothing missing and nothing added.
    async fn the_hierarchy_is_as_published(backend) {
        let app = spawn_app(backend).await;
        let source = expected(&app).await;
        let goals = by_codes(&app.all("/api/v1/goals").await, "goal");
        let measures = by_codes(&app.all("/api/v1/measures").await, "measure");
        let initiatives = by_codes(&app.all("/api/v1/initiatives").await, "initiative");
        assert_eq!((source.goals.len(), source.measures.len(), source.initiatives.len()), (4, 13, 26));

        let codes = |codes: Vec<String>| codes.into_iter().collect::<BTreeSet<_>>();
        assert_eq!(codes(goals.keys().cloned().collect()), codes(source.goals.iter().map(|g| g.number.to_string()).collect()), "goal codes");
        assert_eq!(codes(measures.keys().cloned().collect()), codes(source.measures.iter().map(|m| m.code.clone()).collect()), "measure codes");
        assert_eq!(codes(initiatives.keys().cloned().collect()), codes(source.initiatives.iter().map(|i| i.code.clone()).collect()), "initiative codes");

        for goal in &source.goals {
            let code = goal.number.to_string();
            let item = &goals[&code];
            assert_eq!(item["number"], goal.number, "goal {code}: number");
            assert_eq!(item["category"], goal.category.as_str(), "goal {code}: category");
            assert_eq!(item["title"], goal.title.as_str(), "goal {code}: title");
        }
        let goal_ids = ids_by_code(&goals);
        for measure in &source.measures {
            let item = &measures[&measure.code];
            let (goal, _) = measure.code.split_once('-').unwrap();
            assert_eq!(item["number"], measure.number, "measure {}: number", measure.code);
            assert_eq!(item["title"], measure.title.as_str(), "measure {}: title", measure.code);
            assert_eq!(item["goal_id"], goal_ids[goal], "measure {}: goal", measure.code);
        }
        let measure_ids = ids_by_code(&measures);
        for initiative in &source.initiatives {
            let item = &initiatives[&initiative.code];
            let (measure, _) = initiative.code.rsplit_once('-').unwrap();
            assert_eq!(item["number"], initiative.number, "initiative {}: number", initiative.code);
            assert_eq!(item["title"], initiative.title.as_str(), "initiative {}: title", initiative.code);
            assert_eq!(item["measure_id"], measure_ids[measure], "initiative {}: measure", initiative.code);
        }
    }
}

on_both_backends! {
    /// Every KPI is the document's: name (with "(累計)"), unit, cumulative flag, and baseline and
    /// target with their exact published values, years, year types and year labels.
    async fn every_kpi_is_as_published(backend) {
        let app = spawn_app(backend).await;
        let source = expected(&app).await;
        let kpis = by_codes(&app.all("/api/v1/kpis").await, "KPI");
        let initiative_ids = ids_by_code(&by_codes(&app.all("/api/v1/initiatives").await, "initiative"));

        let mut expected_codes = BTreeSet::new();
        for initiative in &source.initiatives {
            for (position, kpi) in initiative.kpis.iter().enumerate() {
                let code = format!("{}-{}", initiative.code, position + 1);
                let item = kpis.get(&code).unwrap_or_else(|| panic!("KPI {code} ({}) is missing", kpi.name));
                assert_eq!(item["name"], kpi.name.as_str(), "KPI {code}: name");
                assert_eq!(item["unit"], kpi.unit().as_str(), "KPI {code}: unit");
                assert_eq!(item["cumulative"], kpi.name.ends_with("(累計)"), "KPI {code}: cumulative");
                assert_eq!(item["initiative_id"], initiative_ids[&initiative.code], "KPI {code}: initiative");
                let (baseline, target) = kpi.baseline_and_target();
                for (which, reading) in [("baseline", baseline), ("target", target)] {
                    let actual = &item[which];
                    assert_eq!(actual["value_text"], reading.value_text.as_deref().map_or(Value::Null, Value::from), "KPI {code}: {which} value_text");
                    let number = reading.value_text.as_deref().map(|text| text.parse::<f64>().unwrap());
                    assert_eq!(actual["value"].as_f64(), number, "KPI {code}: {which} value ({})", actual["value"]);
                    assert_eq!(actual["year"], reading.year, "KPI {code}: {which} year");
                    assert_eq!(actual["year_type"], reading.year_type, "KPI {code}: {which} year_type");
                    assert_eq!(actual["label"], reading.label.as_str(), "KPI {code}: {which} label");
                }
                if let (Some(from), Some(to)) = (baseline.value_text.as_deref(), target.value_text.as_deref()) {
                    let (from, to) = (from.parse::<f64>().unwrap(), to.parse::<f64>().unwrap());
                    let direction = if to > from { "increase" } else if to < from { "decrease" } else { "maintain" };
                    assert_eq!(item["direction"], direction, "KPI {code}: direction from {from} to {to}");
                }
                expected_codes.insert(code);
            }
        }
        assert_eq!(expected_codes.len(), 45, "KPIs in the source");
        assert_eq!(kpis.keys().cloned().collect::<BTreeSet<_>>(), expected_codes, "KPI codes");
    }
}

on_both_backends! {
    /// Every initiative's project table is the document's, row by row in order: project name,
    /// special account and the description given at that place (161 rows, tables continued after
    /// a blank line included).
    async fn every_project_table_is_as_published(backend) {
        let app = spawn_app(backend).await;
        let source = expected(&app).await;
        let initiatives = by_codes(&app.all("/api/v1/initiatives").await, "initiative");
        let mut rows = 0;
        for initiative in &source.initiatives {
            let code = &initiative.code;
            let detail = app.json(&format!("/api/v1/initiatives/{}", initiatives[code]["id"])).await;
            let listed = detail["project_appearances"].as_array().expect("project_appearances");
            let names = |v: &[Value]| v.iter().map(|a| a["name"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
            assert_eq!(
                names(listed),
                initiative.rows.iter().map(|row| row.name.clone()).collect::<Vec<_>>(),
                "initiative {code}: projects, in order"
            );
            for (row, appearance) in initiative.rows.iter().zip(listed) {
                let name = &row.name;
                assert_eq!(appearance["account"], row.account.as_deref().map_or(Value::Null, Value::from), "initiative {code}, project {name}: account");
                assert_eq!(appearance["description"], row.description.as_str(), "initiative {code}, project {name}: description");
            }
            rows += listed.len();
        }
        assert_eq!(rows, 161, "project appearances");
        assert_eq!(source.rows().count(), 161, "project rows in the source");
    }
}

on_both_backends! {
    /// Every project is the document's: one per distinct name (147), in order of first appearance,
    /// with its account, its responsible divisions and their departments, and every place it is
    /// listed with the description given there.
    async fn every_project_is_as_published(backend) {
        let app = spawn_app(backend).await;
        let source = expected(&app).await;
        let projects = app.all("/api/v1/projects").await;
        let names = source.project_names();
        assert_eq!(names.len(), 147, "distinct project names in the source");
        assert_eq!(projects.len(), names.len(), "projects");

        let mut seen = BTreeSet::new();
        let mut appearances = 0;
        for project in &projects {
            let name = string(&project["name"], "project name");
            assert!(seen.insert(name.to_string()), "project {name} listed twice");
            let position = names.iter().position(|n| n == name).unwrap_or_else(|| panic!("project {name} is not in the source"));
            assert_eq!(project["code"], format!("P{:03}", position + 1), "project {name}: code (order of first appearance)");

            let rows: Vec<(&Initiative, &ProjectRow)> = source.rows().filter(|(_, row)| row.name == name).collect();
            let accounts: BTreeSet<Option<&str>> = rows.iter().map(|(_, row)| row.account.as_deref()).collect();
            assert_eq!(accounts.len(), 1, "project {name}: one account in the source");
            assert_eq!(project["account"], accounts.into_iter().next().unwrap().map_or(Value::Null, Value::from), "project {name}: account");

            let mut divisions: Vec<(String, String)> = Vec::new();
            for (_, row) in &rows {
                for pair in &row.divisions {
                    if !divisions.contains(pair) {
                        divisions.push(pair.clone());
                    }
                }
            }
            let actual_divisions: Vec<(String, String)> = project["divisions"]
                .as_array()
                .expect("divisions")
                .iter()
                .map(|d| (string(&d["name"], "division name").to_string(), string(&d["department"]["name"], "department name").to_string()))
                .collect();
            assert_eq!(actual_divisions, divisions, "project {name}: divisions (department)");

            let mut expected_places: Vec<(String, String)> = rows.iter().map(|(i, row)| (i.code.clone(), row.description.clone())).collect();
            let mut actual_places: Vec<(String, String)> = project["appearances"]
                .as_array()
                .expect("appearances")
                .iter()
                .map(|a| (string(&a["initiative_code"], "initiative_code").to_string(), string(&a["description"], "description").to_string()))
                .collect();
            expected_places.sort();
            actual_places.sort();
            assert_eq!(actual_places, expected_places, "project {name}: appearances (initiative, description)");
            appearances += actual_places.len();
        }
        assert_eq!(appearances, 161, "appearances over all projects");
    }
}

on_both_backends! {
    /// Departments and divisions are exactly those of the document's "課名 (部名)" cells (16 and
    /// 47), each division in its department, coded in order of first appearance.
    async fn departments_and_divisions_are_as_published(backend) {
        let app = spawn_app(backend).await;
        let source = expected(&app).await;
        let pairs = source.division_pairs();
        let mut departments_in_order: Vec<&str> = Vec::new();
        for (_, department) in &pairs {
            if !departments_in_order.contains(&department.as_str()) {
                departments_in_order.push(department);
            }
        }
        assert_eq!((departments_in_order.len(), pairs.len()), (16, 47), "departments and divisions in the source");

        let departments = app.all("/api/v1/departments").await;
        assert_eq!(departments.len(), 16, "departments");
        let mut listed = BTreeSet::new();
        for department in &departments {
            let name = string(&department["name"], "department name");
            let position = departments_in_order.iter().position(|d| *d == name).unwrap_or_else(|| panic!("department {name} is not in the source"));
            let code = format!("D{:02}", position + 1);
            assert_eq!(department["code"], code.as_str(), "department {name}: code (order of first appearance)");
            let in_order: Vec<&str> = pairs.iter().filter(|(_, d)| d == name).map(|(division, _)| division.as_str()).collect();
            for division in department["divisions"].as_array().expect("divisions") {
                let division_name = string(&division["name"], "division name");
                let index = in_order.iter().position(|d| *d == division_name).unwrap_or_else(|| panic!("division {division_name} of {name} is not in the source"));
                assert_eq!(division["code"], format!("{code}-{:02}", index + 1), "division {division_name} ({name}): code (order of first appearance)");
                assert!(listed.insert((division_name.to_string(), name.to_string())), "division {division_name} ({name}) listed twice");
            }
        }
        assert_eq!(listed, pairs.iter().cloned().collect::<BTreeSet<_>>(), "(division, department) pairs under /departments");

        let divisions = app.all("/api/v1/divisions").await;
        let flat: BTreeSet<(String, String)> = divisions
            .iter()
            .map(|d| (string(&d["name"], "division name").to_string(), string(&d["department"]["name"], "department name").to_string()))
            .collect();
        assert_eq!(divisions.len(), 47, "divisions");
        assert_eq!(flat, pairs.iter().cloned().collect::<BTreeSet<_>>(), "(division, department) pairs under /divisions");
    }
}

on_both_backends! {
    /// The two corrections the plan declares are evident typos of the published document: the
    /// published form is in the document, in the very cell named, the correct form is used
    /// elsewhere in it, and the API serves the correct form there.
    async fn corrections_are_evident_typos_of_the_document(backend) {
        let app = spawn_app(backend).await;
        let source = Source::load();
        let corrections = corrections(&app).await;
        for correction in &corrections {
            let record = string(&correction["record"], "record");
            let published = string(&correction["published"], "published");
            let normalised = string(&correction["normalised"], "normalised");
            assert_ne!(published, normalised, "correction of {record}");
            assert!(source.text.contains(published), "correction of {record}: {published:?} is not in the source");
            assert!(source.text.contains(normalised), "correction of {record}: {normalised:?} is nowhere in the source");
            assert!(!string(&correction["reason"], "reason").trim().is_empty(), "correction of {record}: a reason");
        }
        // `expected` fails unless every correction changes the cell it names.
        let corrected = expected(&app).await;

        let find = |field: &str, published: &str| {
            corrections
                .iter()
                .find(|c| c["field"] == field && c["published"] == published)
                .unwrap_or_else(|| panic!("the correction of {published:?} ({field}) is declared"))
                .clone()
        };
        let typo = find("description", "するる");
        assert_eq!(typo["normalised"], "する");
        let record = string(&typo["record"], "record");
        let project = record.split(' ').nth(2).expect("appearance <initiative> <project>");
        let project = by_code(&app, "projects", project).await;
        assert_eq!(project["name"], "未病施策事業");
        let original = source.rows().find(|(_, row)| row.name == "未病施策事業").expect("未病施策事業 in the source").1;
        assert!(original.description.contains("可能にするるとともに"), "published form in the source cell");
        for appearance in project["appearances"].as_array().unwrap() {
            let description = string(&appearance["description"], "description");
            assert!(!description.contains("するる") && description.contains("可能にするとともに"), "未病施策事業: corrected description: {description}");
        }
        assert!(corrected.rows().all(|(_, row)| !row.description.contains("するる")));

        let department = find("department", "子ども未来部");
        assert_eq!(department["normalised"], "こども未来部");
        let record = string(&department["record"], "record");
        let division = by_code(&app, "divisions", record.strip_prefix("division ").expect("division <code>")).await;
        assert_eq!(division["name"], "青少年課");
        assert_eq!(division["department"]["name"], "こども未来部");
        assert!(source.division_pairs().contains(&("青少年課".into(), "子ども未来部".into())), "published pair in the source");
        assert!(corrected.division_pairs().iter().all(|(_, department)| department != "子ども未来部"));
    }
}

/// The parser itself, on the document's known quirks (no server needed).
#[test]
fn the_parser_handles_the_documents_artefacts() {
    assert_eq!(squeeze("中町第2-2地区 周辺整備事業"), "中町第2-2地区周辺整備事業");
    assert_eq!(squeeze("公衆無線LAN (Wi-Fi) を整備"), "公衆無線LAN(Wi-Fi)を整備");
    assert_eq!(
        squeeze("幹線道路 (1・2 級市道) 等の整備延長 (累計)"),
        "幹線道路(1・2級市道)等の整備延長(累計)"
    );
    assert_eq!(squeeze("m ² /人"), "m²/人");
    assert_eq!(clean("<p>A。</p> <p>また、B。</p>"), "A。\nまた、B。");
    assert_eq!(clean("行います。 また、行います。"), "行います。\nまた、行います。");
    assert_eq!(
        divisions("<p>健康長寿推進課 (市民健康部)</p> <p>健康づくり課 (市民健康部)</p>", 0),
        [
            ("健康長寿推進課".to_string(), "市民健康部".to_string()),
            ("健康づくり課".into(), "市民健康部".into())
        ]
    );
    assert_eq!(
        divisions("行政経営課 (政策部) 財政課 (財務部)", 0),
        [
            ("行政経営課".to_string(), "政策部".to_string()),
            ("財政課".into(), "財務部".into())
        ]
    );

    let source = Source::load();
    let kpis: Vec<&Kpi> = source.initiatives.iter().flat_map(|i| &i.kpis).collect();
    assert_eq!(kpis.len(), 45);
    let pedestrians = &source.initiative("1-2-1").kpis[0];
    let (baseline, target) = pedestrians.baseline_and_target();
    assert_eq!((baseline.value_text.as_deref(), baseline.year), (Some("109836"), 2019));
    assert_eq!((target.value_text.as_deref(), target.year), (Some("112500"), 2026));
    let health = &source.initiative("4-1-1").kpis;
    assert_eq!(health.len(), 2);
    assert_eq!(health[1].baseline_and_target().1.value_text.as_deref(), Some("93.5"));
    let parks = &source.initiative("4-3-3").kpis[0];
    assert_eq!(parks.unit(), "m²/人");
    let reform = &source.initiative("4-4-1").kpis[0];
    assert_eq!(reform.baseline_and_target().0.value_text, None);
    assert_eq!(reform.unit(), "%");
    let account = source
        .rows()
        .find(|(_, row)| row.name == "厚木秦野道路用地取得事業(用地国債)")
        .expect("用地国債 project")
        .1;
    assert_eq!(account.account.as_deref(), Some("公共用地取得事業特別会計"));
    assert_eq!(
        source.initiative("3-2-2").rows.len(),
        12,
        "a table continued after a blank line"
    );
    assert_eq!(source.rows().count(), 161);
    assert_eq!(source.project_names().len(), 147);
}
