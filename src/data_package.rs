//! The tables of a plan's `export.zip`, each with its Frictionless Table Schema, and the zip's
//! `datapackage.json` (Data Package v2): column types, required and unique fields, primary and
//! foreign keys, so that anyone can validate a download with `frictionless validate`.
//!
//! The columns here are the CSV's columns: the zip writes exactly these, in this order, with a
//! header row even when a table is empty (a test checks them against the rows the API produces).

use serde_json::{json, Value};

/// A column's type, as Table Schema names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Number,
    Text,
    Boolean,
    /// A Gregorian year (`2026`).
    Year,
    /// RFC 3339 with fractional seconds and `Z`.
    DateTime,
    /// Values of a list joined by `;` (a CSV cell holds one value).
    Joined,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub unique: bool,
}

const fn optional(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        unique: false,
    }
}

const fn required(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        unique: false,
    }
}

/// Required and unique within the file: ids and codes.
const fn key(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        unique: true,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ForeignKey {
    pub fields: &'static [&'static str],
    pub table: &'static str,
    pub reference: &'static [&'static str],
}

const fn refers(
    fields: &'static [&'static str],
    table: &'static str,
    reference: &'static [&'static str],
) -> ForeignKey {
    ForeignKey {
        fields,
        table,
        reference,
    }
}

/// One CSV file of the zip.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The resource name, and the file's name without `.csv`.
    pub name: &'static str,
    pub description: &'static str,
    pub fields: &'static [Field],
    pub primary_key: &'static [&'static str],
    pub foreign_keys: &'static [ForeignKey],
}

impl Table {
    pub fn file(&self) -> String {
        format!("{}.csv", self.name)
    }

    pub fn columns(&self) -> Vec<String> {
        self.fields.iter().map(|field| field.name.to_string()).collect()
    }

    /// The Frictionless Table Schema of the file.
    pub fn schema(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|field| {
                let mut described = json!({"name": field.name, "type": kind_name(field.kind)});
                match field.kind {
                    Kind::Joined => described["description"] = "values of a list, joined by `;`".into(),
                    Kind::DateTime => described["format"] = "any".into(),
                    _ => {}
                }
                let mut constraints = serde_json::Map::new();
                if field.required {
                    constraints.insert("required".into(), true.into());
                }
                if field.unique {
                    constraints.insert("unique".into(), true.into());
                }
                if !constraints.is_empty() {
                    described["constraints"] = Value::Object(constraints);
                }
                described
            })
            .collect();
        let mut schema = json!({
            "$schema": "https://datapackage.org/profiles/2.0/tableschema.json",
            "fields": fields,
            "missingValues": [""],
        });
        if !self.primary_key.is_empty() {
            schema["primaryKey"] = json!(self.primary_key);
        }
        if !self.foreign_keys.is_empty() {
            schema["foreignKeys"] = self
                .foreign_keys
                .iter()
                .map(|key| json!({"fields": key.fields, "reference": {"resource": key.table, "fields": key.reference}}))
                .collect();
        }
        schema
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Integer => "integer",
        Kind::Number => "number",
        Kind::Text | Kind::Joined => "string",
        Kind::Boolean => "boolean",
        Kind::Year => "year",
        Kind::DateTime => "datetime",
    }
}

use Kind::{Boolean, DateTime, Integer, Joined, Number, Text, Year};

const RECORD_END: [Field; 2] = [required("version", Integer), required("updated_at", DateTime)];

macro_rules! fields {
    ($($field:expr),* $(,)?) => { &[$($field),*] };
}

/// Every file of the zip, parents before children.
pub const TABLES: &[Table] = &[
    Table {
        name: "plan",
        description: "the plan: name, municipality codes, period, publisher, licence, corrections of the source",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("name", Text),
            required("document_title", Text),
            required("municipality_code", Text),
            required("municipality_code_5digit", Text),
            required("municipality_name", Text),
            required("prefecture", Text),
            required("period_start_year", Year),
            required("period_end_year", Year),
            optional("grading_scheme_grade", Joined),
            optional("grading_scheme_min", Joined),
            optional("publisher", Text),
            optional("source_url", Text),
            optional("published_on", Text),
            optional("licence", Text),
            optional("licence_url", Text),
            optional("description", Text),
            optional("keywords", Joined),
            optional("contact_name", Text),
            optional("contact_email", Text),
            optional("contact_url", Text),
            RECORD_END[0],
            RECORD_END[1],
            optional("corrections_record", Joined),
            optional("corrections_field", Joined),
            optional("corrections_published", Joined),
            optional("corrections_normalised", Joined),
            optional("corrections_reason", Joined),
        ],
        primary_key: &["id"],
        foreign_keys: &[],
    },
    Table {
        name: "departments",
        description: "departments (部), with their divisions joined by `;`",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("name", Text),
            optional("divisions_id", Joined),
            optional("divisions_code", Joined),
            optional("divisions_name", Joined),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["plan_id"], "plan", &["id"])],
    },
    Table {
        name: "divisions",
        description: "divisions (課), each with its department",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("department_id", Integer),
            required("name", Text),
            required("department_code", Text),
            required("department_name", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["department_id"], "departments", &["id"])],
    },
    Table {
        name: "goals",
        description: "basic goals (基本目標)",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("number", Integer),
            required("category", Text),
            required("title", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["plan_id"], "plan", &["id"])],
    },
    Table {
        name: "measures",
        description: "measures (具体的な施策); goal_id refers to goals.csv",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("goal_id", Integer),
            required("number", Integer),
            required("title", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["goal_id"], "goals", &["id"])],
    },
    Table {
        name: "initiatives",
        description: "initiatives (主な取組); measure_id refers to measures.csv",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("measure_id", Integer),
            required("number", Integer),
            required("title", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["measure_id"], "measures", &["id"])],
    },
    Table {
        name: "kpis",
        description:
            "KPIs with baseline, target and progress (against the current target, and against the original one \
                      where it was revised); initiative_id refers to initiatives.csv",
        fields: fields![
            key("id", Integer),
            key("code", Text),
            required("plan_id", Integer),
            required("initiative_id", Integer),
            required("name", Text),
            required("unit", Text),
            required("cumulative", Boolean),
            required("direction", Text),
            optional("baseline_value", Number),
            optional("baseline_value_text", Text),
            required("baseline_year", Year),
            required("baseline_year_type", Text),
            required("baseline_label", Text),
            optional("target_value", Number),
            optional("target_value_text", Text),
            required("target_year", Year),
            required("target_year_type", Text),
            required("target_label", Text),
            optional("source", Text),
            optional("progress_latest_year", Year),
            optional("progress_latest_value", Number),
            optional("progress_latest_value_text", Text),
            optional("progress_achievement", Number),
            optional("progress_expected", Number),
            required("progress_status", Text),
            optional("progress_grade", Text),
            optional("original_target_progress_achievement", Number),
            optional("original_target_progress_expected", Number),
            optional("original_target_progress_status", Text),
            optional("original_target_progress_grade", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["initiative_id"], "initiatives", &["id"])],
    },
    Table {
        name: "kpi_results",
        description: "yearly results (実績値); kpi_id refers to kpis.csv",
        fields: fields![
            required("kpi_id", Integer),
            required("year", Year),
            required("year_type", Text),
            required("label", Text),
            optional("value", Number),
            optional("value_text", Text),
            required("status", Text),
            optional("note", Text),
            optional("source", Text),
            optional("analysis", Text),
            optional("next_steps", Text),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["kpi_id", "year"],
        foreign_keys: &[refers(&["kpi_id"], "kpis", &["id"])],
    },
    Table {
        name: "projects",
        description: "projects (事業) with divisions and appearances joined by `;`",
        fields: fields![
            key("id", Integer),
            required("code", Text),
            required("plan_id", Integer),
            required("name", Text),
            optional("account", Text),
            optional("divisions_id", Joined),
            optional("divisions_code", Joined),
            optional("divisions_name", Joined),
            optional("divisions_department_id", Joined),
            optional("divisions_department_code", Joined),
            optional("divisions_department_name", Joined),
            optional("appearances_initiative_id", Joined),
            optional("appearances_initiative_code", Joined),
            optional("appearances_description", Joined),
            RECORD_END[0],
            RECORD_END[1],
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["plan_id"], "plan", &["id"])],
    },
    Table {
        name: "project_appearances",
        description: "one row per listing of a project under an initiative, with its description, in the order of \
                      each initiative's project table",
        fields: fields![
            required("project_id", Integer),
            required("project_code", Text),
            required("project_name", Text),
            required("initiative_id", Integer),
            required("initiative_code", Text),
            optional("description", Text),
        ],
        primary_key: &[],
        foreign_keys: &[
            refers(&["project_id"], "projects", &["id"]),
            refers(&["initiative_id"], "initiatives", &["id"]),
        ],
    },
    Table {
        name: "source_corrections",
        description:
            "corrections of evident typos of the published document, each with the published form and the reason",
        fields: fields![
            required("record", Text),
            required("field", Text),
            required("published", Text),
            required("normalised", Text),
            required("reason", Text),
        ],
        primary_key: &[],
        foreign_keys: &[],
    },
    Table {
        name: "kpi_target_revisions",
        description:
            "revisions of KPI targets, oldest first per KPI: the previous and the new target, the reason, who and when",
        fields: fields![
            required("kpi_id", Integer),
            required("kpi_code", Text),
            optional("previous_value_text", Text),
            required("previous_year", Year),
            optional("value_text", Text),
            required("year", Year),
            required("year_type", Text),
            required("reason", Text),
            required("revised_by", Text),
            required("revised_at", DateTime),
        ],
        primary_key: &[],
        foreign_keys: &[refers(&["kpi_id"], "kpis", &["id"])],
    },
    Table {
        name: "evaluations",
        description: "frozen yearly evaluations",
        fields: fields![
            key("id", Integer),
            required("plan_id", Integer),
            required("fiscal_year", Year),
            required("title", Text),
            required("created_by", Text),
            required("created_at", DateTime),
        ],
        primary_key: &["id"],
        foreign_keys: &[refers(&["plan_id"], "plan", &["id"])],
    },
    Table {
        name: "evaluation_items",
        description: "each KPI as an evaluation froze it (its figures as published then, as text); evaluation_id \
                      refers to evaluations.csv; kpi_id may name a KPI deleted since",
        fields: fields![
            required("kpi_id", Integer),
            required("kpi_code", Text),
            required("kpi_name", Text),
            required("unit", Text),
            required("direction", Text),
            optional("baseline_value", Text),
            optional("target_value", Text),
            optional("target_year", Year),
            optional("original_target_value", Text),
            optional("original_target_year", Year),
            optional("original_achievement", Number),
            optional("result_year", Year),
            optional("result_value", Text),
            optional("achievement", Number),
            optional("expected", Number),
            required("status", Text),
            optional("grade", Text),
            required("evaluation_id", Integer),
        ],
        primary_key: &["evaluation_id", "kpi_id"],
        foreign_keys: &[refers(&["evaluation_id"], "evaluations", &["id"])],
    },
];

/// The table of a name (`kpis`), for `/api/v1/schemas/{table}.json`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|table| table.name == name)
}

/// What the zip's writer learnt of one file: its size and SHA-256.
pub struct Written {
    pub table: &'static Table,
    pub bytes: u64,
    pub sha256: String,
}

/// The plan's facts the package names.
pub struct PackageFacts<'a> {
    pub code: &'a str,
    pub title: &'a str,
    pub publisher: Option<&'a str>,
    pub licence: Option<&'a str>,
    pub licence_url: Option<&'a str>,
    pub source_url: Option<&'a str>,
    /// The change feed's newest cursor: the package's version moves with every write.
    pub data_version: i64,
}

/// `datapackage.json`: every CSV as a tabular resource with its schema, dialect, size and hash.
pub fn descriptor(facts: &PackageFacts, files: &[Written]) -> Value {
    let resources: Vec<Value> = files
        .iter()
        .map(|written| {
            json!({
                "name": written.table.name,
                "type": "table",
                "path": written.table.file(),
                "scheme": "file",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": written.bytes,
                "hash": format!("sha256:{}", written.sha256),
                "description": written.table.description,
                "dialect": {
                    "$schema": "https://datapackage.org/profiles/2.0/tabledialect.json",
                    "header": true,
                    "delimiter": ",",
                    "lineTerminator": "\r\n",
                    "quoteChar": "\"",
                    "doubleQuote": true,
                },
                "schema": written.table.schema(),
            })
        })
        .collect();
    let mut package = json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": facts.code.to_ascii_lowercase(),
        "title": facts.title,
        "version": format!("1.0.{}", facts.data_version),
        "resources": resources,
    });
    let publisher = facts.publisher.unwrap_or_default();
    if !publisher.is_empty() {
        package["contributors"] = json!([{"title": publisher, "roles": ["publisher"]}]);
    }
    match (facts.licence, facts.licence_url) {
        (None, None) => {
            package["description"] =
                "No licence has been set for this data: ask the publisher before reusing it.".into();
        }
        (name, path) => {
            let mut licence = serde_json::Map::new();
            if let Some(name) = name {
                licence.insert("title".into(), name.into());
            }
            if let Some(path) = path {
                licence.insert("path".into(), path.into());
            }
            package["licenses"] = json!([licence]);
        }
    }
    if let Some(source) = facts.source_url {
        package["sources"] = json!([{"title": facts.title, "path": source}]);
    }
    package
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_columns_of_their_tables() {
        for table in TABLES {
            let names: Vec<&str> = table.fields.iter().map(|field| field.name).collect();
            for column in table.primary_key {
                assert!(names.contains(column), "{}: primary key {column}", table.name);
            }
            for key in table.foreign_keys {
                for column in key.fields {
                    assert!(names.contains(column), "{}: foreign key {column}", table.name);
                }
                let target = table_named(key.table);
                for column in key.reference {
                    assert!(
                        target.fields.iter().any(|field| field.name == *column),
                        "{} → {}",
                        table.name,
                        key.table
                    );
                }
                let position = |name: &str| TABLES.iter().position(|table| table.name == name).unwrap();
                assert!(
                    position(key.table) < position(table.name),
                    "parents come first: {}",
                    table.name
                );
            }
        }
    }

    fn table_named(name: &str) -> &'static Table {
        table(name).unwrap_or_else(|| panic!("no table {name}"))
    }

    #[test]
    fn a_package_without_a_licence_says_so() {
        let facts = PackageFacts {
            code: "atsugi-2",
            title: "t",
            publisher: None,
            licence: None,
            licence_url: None,
            source_url: None,
            data_version: 3,
        };
        let package = descriptor(&facts, &[]);
        assert!(package.get("licenses").is_none());
        assert!(package["description"].as_str().unwrap().contains("No licence"));
        assert_eq!(package["version"], "1.0.3");
    }
}
