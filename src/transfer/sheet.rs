//! The yearly results sheet (実績値入力シート): a template per plan (or per department) with one
//! row per KPI and year, and reading it back as staff filled it in, as xlsx or CSV.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::results::{self as result_api, ResultForm, ResultStatus};
use crate::db::goals::CommonFilter;
use crate::db::kpis::{self as kpi_store, KpiFilter, KpiRow};
use crate::db::results::{self, ResultRow};
use crate::db::write::Operation;
use crate::db::{projects, DbConnection};
use crate::domain::era;
use crate::domain::input::handwritten;
use crate::domain::kpi::YearType;
use crate::error::{ApiError, FieldError};

use super::load::Actor;

/// One column of the sheet: its key (also accepted as a header), its Japanese header, and
/// whether staff fill it in.
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub editable: bool,
    pub width: f64,
}

const fn column(key: &'static str, label: &'static str, editable: bool, width: f64) -> Column {
    Column {
        key,
        label,
        editable,
        width,
    }
}

pub const COLUMNS: [Column; 15] = [
    column("kpi_code", "KPI番号", false, 10.0),
    column("kpi_name", "指標名", false, 40.0),
    column("unit", "単位", false, 8.0),
    column("baseline", "基準値", false, 22.0),
    column("target", "目標値", false, 22.0),
    column("divisions", "担当課", false, 28.0),
    column("year", "年度（西暦）", false, 12.0),
    column("year_label", "年度", false, 16.0),
    column("value", "実績値", true, 12.0),
    column("status", "測定状況", true, 14.0),
    column("note", "備考", true, 30.0),
    column("source", "出典", true, 24.0),
    column("analysis", "要因分析", true, 40.0),
    column("next_steps", "今後の方向性", true, 40.0),
    column("version", "版", false, 6.0),
];

/// What staff write in `測定状況`: blank or `measured` for a figure, `not_measurable` (測定不能)
/// when there is none that year.
const STATUS_WORDS: [(&str, ResultStatus); 4] = [
    ("measured", ResultStatus::Measured),
    ("測定済み", ResultStatus::Measured),
    ("not_measurable", ResultStatus::NotMeasurable),
    ("測定不能", ResultStatus::NotMeasurable),
];

/// One row of the template: a KPI and a year, with what is recorded for it.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub cells: [String; 15],
}

fn measurement_text(value: Option<&str>, year: i32, year_type: &str) -> String {
    let year_type = year_type.parse().unwrap_or(YearType::Fiscal);
    format!("{}（{}）", value.unwrap_or("—"), era::label(year, year_type))
}

/// The divisions responsible for each initiative's projects, by initiative id.
type DivisionsOf = HashMap<i64, Vec<projects::InitiativeDivision>>;

/// The KPIs of a plan (those of one department's initiatives, if given), with their divisions.
fn kpis_of(
    conn: &mut DbConnection,
    plan_id: i64,
    department: Option<i64>,
) -> Result<(Vec<KpiRow>, DivisionsOf), ApiError> {
    let filter = KpiFilter {
        common: CommonFilter {
            plan: Some(plan_id),
            code: None,
        },
        department,
        ..Default::default()
    };
    let kpis = kpi_store::all(conn, &filter)?;
    let mut initiatives: Vec<i64> = kpis.iter().map(|kpi| kpi.initiative_id).collect();
    initiatives.sort_unstable();
    initiatives.dedup();
    let mut divisions: HashMap<i64, Vec<projects::InitiativeDivision>> = HashMap::new();
    for division in projects::divisions_of_initiatives(conn, &initiatives)? {
        divisions.entry(division.initiative_id).or_default().push(division);
    }
    Ok((kpis, divisions))
}

/// The template's rows: per KPI in code order, each year after the baseline up to the target
/// (the caller has found the plan).
pub fn template(conn: &mut DbConnection, plan_id: i64, department: Option<i64>) -> Result<Vec<TemplateRow>, ApiError> {
    let (mut kpis, divisions) = kpis_of(conn, plan_id, department)?;
    kpis.sort_by_key(|kpi| crate::domain::text::code_order(&kpi.code));
    let ids: Vec<i64> = kpis.iter().map(|kpi| kpi.id).collect();
    let mut recorded: HashMap<(i64, i32), ResultRow> = HashMap::new();
    for row in results::of_kpis(conn, &ids)? {
        recorded.insert((row.kpi_id, row.year), row);
    }
    let mut rows = Vec::new();
    for kpi in &kpis {
        let year_type = kpi.target_year_type.parse().unwrap_or(YearType::Fiscal);
        let names: Vec<&str> = divisions
            .get(&kpi.initiative_id)
            .into_iter()
            .flatten()
            .map(|division| division.division.as_str())
            .collect();
        for year in kpi.baseline_year + 1..=kpi.target_year {
            let result = recorded.get(&(kpi.id, year));
            let text =
                |pick: fn(&ResultRow) -> &Option<String>| result.and_then(|row| pick(row).clone()).unwrap_or_default();
            rows.push(TemplateRow {
                cells: [
                    kpi.code.clone(),
                    kpi.name.clone(),
                    kpi.unit.clone(),
                    measurement_text(
                        kpi.baseline_value.as_deref(),
                        kpi.baseline_year,
                        &kpi.baseline_year_type,
                    ),
                    measurement_text(kpi.target_value.as_deref(), kpi.target_year, &kpi.target_year_type),
                    names.join("・"),
                    year.to_string(),
                    era::label(year, year_type),
                    text(|row| &row.value),
                    result.map(|row| row.status.clone()).unwrap_or_default(),
                    text(|row| &row.note),
                    text(|row| &row.source),
                    text(|row| &row.analysis),
                    text(|row| &row.next_steps),
                    result.map(|row| row.version.to_string()).unwrap_or_default(),
                ],
            });
        }
    }
    Ok(rows)
}

/// The template as CSV: UTF-8 with a BOM (so that Excel opens it as UTF-8), CRLF, a header row.
pub fn to_csv(rows: &[TemplateRow]) -> Result<Vec<u8>, ApiError> {
    let failed = |error: csv::Error| ApiError::Internal(error.to_string());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer
        .write_record(COLUMNS.iter().map(|column| column.label))
        .map_err(failed)?;
    for row in rows {
        writer.write_record(&row.cells).map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|error| ApiError::Internal(error.to_string()))
}

/// The header row of the service's workbooks: white bold on dark blue (contrast 9:1).
pub(crate) fn header_format() -> rust_xlsxwriter::Format {
    use rust_xlsxwriter::{Color, Format, FormatBorder};
    Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0x1F4E79))
        .set_font_color(Color::White)
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(rust_xlsxwriter::FormatAlign::Top)
}

/// The template as an Excel workbook: a header row that stays in view, filters, the cells to fill
/// in white and the others shaded, a list to pick the status from, and a sheet of instructions.
pub fn to_xlsx(rows: &[TemplateRow], title: &str) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Color, DataValidation, Format, FormatBorder, Workbook};
    let failed = |error: rust_xlsxwriter::XlsxError| ApiError::Internal(error.to_string());
    let mut workbook = Workbook::new();
    let header = header_format();
    let fixed = Format::new()
        .set_background_color(Color::RGB(0xEDEDED))
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let editable = Format::new()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_unlocked();
    let sheet = workbook.add_worksheet();
    sheet.set_name("実績値入力").map_err(failed)?;
    for (index, column) in COLUMNS.iter().enumerate() {
        let col = index as u16;
        sheet.set_column_width(col, column.width).map_err(failed)?;
        sheet
            .write_string_with_format(0, col, column.label, &header)
            .map_err(failed)?;
    }
    for (number, row) in rows.iter().enumerate() {
        let line = number as u32 + 1;
        for (index, (cell, column)) in row.cells.iter().zip(&COLUMNS).enumerate() {
            let format = if column.editable { &editable } else { &fixed };
            let col = index as u16;
            // Figures a person types are numbers in Excel; the recorded ones go back as typed.
            match (column.key, cell.parse::<f64>()) {
                ("year" | "version", Ok(number)) => sheet.write_number_with_format(line, col, number, format),
                _ => sheet.write_string_with_format(line, col, cell, format),
            }
            .map_err(failed)?;
        }
    }
    let last = rows.len() as u32;
    sheet.set_freeze_panes(1, 2).map_err(failed)?;
    sheet
        .autofilter(0, 0, last.max(1), COLUMNS.len() as u16 - 1)
        .map_err(failed)?;
    if last > 0 {
        let status_column = COLUMNS.iter().position(|column| column.key == "status").unwrap_or(9) as u16;
        let choices = DataValidation::new()
            .allow_list_strings(&["measured", "not_measurable"])
            .map_err(failed)?
            .set_input_title("測定状況")
            .map_err(failed)?
            .set_input_message("空欄または measured：実績値あり／not_measurable：測定不能（備考に理由）")
            .map_err(failed)?;
        sheet
            .add_data_validation(1, status_column, last, status_column, &choices)
            .map_err(failed)?;
    }
    let guide = workbook.add_worksheet();
    guide.set_name("記入方法").map_err(failed)?;
    guide.set_column_width(0, 100).map_err(failed)?;
    let lines = [
        title.to_string(),
        String::new(),
        "白い欄（実績値・測定状況・備考・出典・要因分析・今後の方向性）を記入してください。灰色の欄は変更しないでください。".into(),
        "実績値は数値で記入します（全角数字、桁区切りのコンマ、％、単位の付記は読み取ります）。".into(),
        "測定できなかった年度は、測定状況を not_measurable（測定不能）とし、備考に理由を記入します。".into(),
        "記入しない行は空欄のままで構いません（記録済みの値は変更されません）。".into(),
        "「版」は記録済みの実績の版です。取込み時に、ダウンロード後に他の人が変更した行は取り込まれません。".into(),
        "取込み前に dry_run=true で内容を確認できます。".into(),
    ];
    for (index, line) in lines.iter().enumerate() {
        guide.write_string(index as u32, 0, line).map_err(failed)?;
    }
    workbook.save_to_buffer().map_err(failed)
}

/// A filled-in row as read: its row number in the file and its cells by column key.
#[derive(Debug)]
pub struct SheetRow {
    pub number: usize,
    pub cells: HashMap<&'static str, String>,
}

/// The columns of a header row, by their Japanese header or their key; the row must name a KPI,
/// a year and a value.
fn columns_of(header: &[String]) -> Result<Vec<Option<&'static str>>, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    let plain = |text: &str| -> String {
        text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .nfkc()
            .collect()
    };
    let keys: Vec<Option<&'static str>> = header
        .iter()
        .map(|cell| {
            let cell = plain(cell);
            COLUMNS
                .iter()
                .find(|column| cell == plain(column.label) || cell == column.key)
                .map(|column| column.key)
        })
        .collect();
    let missing: Vec<FieldError> = ["kpi_code", "year", "value"]
        .into_iter()
        .filter(|key| !keys.contains(&Some(*key)))
        .map(|key| {
            let label = COLUMNS
                .iter()
                .find(|column| column.key == key)
                .map_or(key, |column| column.label);
            FieldError {
                field: format!("row 1, {label} ({key})"),
                message: "the header row has no such column: use the sheet from results/template".into(),
            }
        })
        .collect();
    if missing.is_empty() {
        Ok(keys)
    } else {
        Err(ApiError::refusals(missing))
    }
}

fn rows_of(records: Vec<Vec<String>>) -> Result<Vec<SheetRow>, ApiError> {
    let mut records = records.into_iter();
    let header = records
        .next()
        .ok_or_else(|| ApiError::refused_field("body", "the sheet is empty"))?;
    let keys = columns_of(&header)?;
    Ok(records
        .enumerate()
        .map(|(index, cells)| SheetRow {
            number: index + 2,
            cells: keys
                .iter()
                .zip(cells)
                .filter_map(|(key, cell)| key.map(|key| (key, cell)))
                .collect(),
        })
        // A row whose cells to fill in are all blank was not filled in: it records nothing.
        .filter(|row| {
            COLUMNS.iter().filter(|column| column.editable).any(|column| {
                row.cells
                    .get(column.key)
                    .is_some_and(|cell| handwritten::text(cell).is_some())
            })
        })
        .collect())
}

/// A CSV sheet (UTF-8, with or without a BOM).
pub fn read_csv(body: &[u8]) -> Result<Vec<SheetRow>, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if std::str::from_utf8(body).is_err() {
        return Err(ApiError::refused_field(
            "body",
            "is not UTF-8: save the sheet as \"CSV UTF-8 (コンマ区切り)\"",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record =
            record.map_err(|error| ApiError::refused_field(format!("row {}", index + 1), error.to_string()))?;
        records.push(record.iter().map(str::to_string).collect());
    }
    rows_of(records)
}

/// An xlsx workbook: its first sheet.
pub fn read_xlsx(body: &[u8]) -> Result<Vec<SheetRow>, ApiError> {
    use calamine::{DataRef, Reader, Xlsx};
    let unreadable = |error: calamine::XlsxError| {
        ApiError::refused_field("body", format!("is not a readable xlsx workbook: {error}"))
    };
    let mut workbook = Xlsx::new(std::io::Cursor::new(body.to_vec())).map_err(unreadable)?;
    let first = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ApiError::refused_field("body", "the workbook has no sheet"))?;
    // Cell by cell, never as a grid: a workbook with one cell far out must not allocate the rest.
    let mut cells = workbook.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut records: Vec<Vec<String>> = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        let (row, column) = (row as usize, column as usize);
        if column >= MAX_SHEET_COLUMNS {
            continue;
        }
        if row >= MAX_SHEET_ROWS {
            return Err(ApiError::refused_field(
                "body",
                format!("the sheet has more than {MAX_SHEET_ROWS} rows: use the sheet from results/template"),
            ));
        }
        let text = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => text.clone(),
            DataRef::SharedString(text) => text.to_string(),
            // Shortest form that reads back as the same number: 26, 98.9.
            DataRef::Float(number) => number.to_string(),
            DataRef::Int(number) => number.to_string(),
            DataRef::Bool(value) => value.to_string(),
            DataRef::DateTime(time) => time.to_string(),
            DataRef::Error(error) => error.to_string(),
        };
        if records.len() <= row {
            records.resize(row + 1, Vec::new());
        }
        let cells_of_row = &mut records[row];
        if cells_of_row.len() <= column {
            cells_of_row.resize(column + 1, String::new());
        }
        cells_of_row[column] = text;
    }
    rows_of(records)
}

/// The most rows a sheet may have (a plan of 45,000 KPIs over 6 years has fewer) and the columns
/// read (the template has 15; notes staff add to the right are ignored).
const MAX_SHEET_ROWS: usize = 300_000;
const MAX_SHEET_COLUMNS: usize = 64;

/// What happened (or in a dry run would happen) to one row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowOutcome {
    /// The row's number in the sheet (the header is row 1).
    #[schema(example = 2)]
    pub row: usize,
    #[schema(example = "1-1-1-1")]
    pub kpi_code: String,
    #[schema(example = 2022)]
    pub year: Option<i32>,
    /// `created`, `changed`, `unchanged` or `refused`.
    #[schema(example = "changed")]
    pub outcome: &'static str,
    /// For a changed row, each field that changes, from → to.
    pub changes: Vec<FieldChange>,
    /// For a refused row, why, by column.
    pub problems: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChange {
    #[schema(example = "value")]
    pub field: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What an import of a sheet did, row by row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultsImportReport {
    pub dry_run: bool,
    #[schema(example = 1)]
    pub plan_id: i64,
    /// Rows per outcome.
    pub counts: OutcomeCounts,
    /// Every row with something in it, in sheet order.
    pub rows: Vec<RowOutcome>,
}

/// How many rows had each outcome.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OutcomeCounts {
    pub created: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// Who may import: `Some(department)` limits the rows to that department's KPIs.
pub struct Limit {
    pub department: Option<i64>,
}

fn label_of(key: &str) -> &'static str {
    COLUMNS
        .iter()
        .find(|column| column.key == key)
        .map_or("", |column| column.label)
}

fn problem(row: usize, key: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: format!("row {row}, {} ({key})", label_of(key)),
        message: message.into(),
    }
}

/// A result's fields as text, for comparing and for the report.
fn fields_of(value: &Option<String>, status: &str, form: [&Option<String>; 4]) -> [(&'static str, Option<String>); 6] {
    [
        ("value", value.clone()),
        ("status", Some(status.to_string())),
        ("note", form[0].clone()),
        ("source", form[1].clone()),
        ("analysis", form[2].clone()),
        ("next_steps", form[3].clone()),
    ]
}

/// Checks every row and, unless `dry_run` or a row is refused, records them all (each audited
/// like a single PUT). A refused row makes the whole import fail: with 409 when rows changed
/// since the sheet was downloaded, 403 for other departments' rows, else with 422 naming each
/// row and column (the document describes a sheet only as a file: what is in it is a rule's matter).
pub fn apply(
    conn: &mut DbConnection,
    plan_id: i64,
    rows: &[SheetRow],
    limit: &Limit,
    actor: &Actor,
    dry_run: bool,
) -> Result<ResultsImportReport, ApiError> {
    if !crate::db::plans::exists(conn, plan_id)? {
        return Err(ApiError::not_found("plan", plan_id));
    }
    let (kpis, divisions) = kpis_of(conn, plan_id, None)?;
    let by_code: HashMap<&str, &KpiRow> = kpis.iter().map(|kpi| (kpi.code.as_str(), kpi)).collect();
    let mut outcomes = Vec::new();
    let mut writes = Vec::new();
    let (mut conflicts, mut unfit, mut forbidden) = (false, false, false);
    let mut seen: Vec<(String, i32)> = Vec::new();
    for row in rows {
        let cell = |key: &str| row.cells.get(key).and_then(|cell| handwritten::text(cell));
        let code = cell("kpi_code").unwrap_or_default();
        let mut outcome = RowOutcome {
            row: row.number,
            kpi_code: code.clone(),
            year: None,
            outcome: "refused",
            changes: Vec::new(),
            problems: Vec::new(),
        };
        let refuse = |outcome: &mut RowOutcome, key: &str, message: String| {
            outcome.problems.push(problem(row.number, key, message))
        };
        let Some(kpi) = by_code.get(code.as_str()) else {
            refuse(&mut outcome, "kpi_code", format!("`{code}` is not a KPI of this plan"));
            unfit = true;
            outcomes.push(outcome);
            continue;
        };
        if let Some(department) = limit.department {
            let of_department = divisions
                .get(&kpi.initiative_id)
                .is_some_and(|found| found.iter().any(|division| division.department_id == department));
            if !of_department {
                refuse(
                    &mut outcome,
                    "kpi_code",
                    format!("this token may record results only for KPIs of department {department}"),
                );
                forbidden = true;
                outcomes.push(outcome);
                continue;
            }
        }
        let year = match cell("year").map(|text| text.parse::<i32>()) {
            Some(Ok(year)) => year,
            _ => {
                refuse(&mut outcome, "year", "must be the Gregorian year, like 2022".into());
                unfit = true;
                outcomes.push(outcome);
                continue;
            }
        };
        outcome.year = Some(year);
        if seen.contains(&(code.clone(), year)) {
            refuse(
                &mut outcome,
                "year",
                "this KPI and year are on an earlier row too".into(),
            );
            unfit = true;
            outcomes.push(outcome);
            continue;
        }
        seen.push((code.clone(), year));
        let value = row
            .cells
            .get("value")
            .map_or(Ok(None), |cell| handwritten::decimal(cell, &kpi.unit));
        let status = match cell("status") {
            None => Ok(None),
            Some(word) => STATUS_WORDS
                .iter()
                .find(|(name, _)| *name == word)
                .map(|(_, status)| Some(*status))
                .ok_or_else(|| {
                    format!("`{word}` is not a status: leave it blank, or write measured or not_measurable")
                }),
        };
        for (key, failure) in [("value", value.as_ref().err()), ("status", status.as_ref().err())] {
            if let Some(message) = failure {
                refuse(&mut outcome, key, message.clone());
            }
        }
        let (Ok(value), Ok(status)) = (value, status) else {
            unfit = true;
            outcomes.push(outcome);
            continue;
        };
        let form = ResultForm {
            value,
            status,
            note: cell("note"),
            source: cell("source"),
            analysis: cell("analysis"),
            next_steps: cell("next_steps"),
        };
        let recorded = results::find(conn, kpi.id, year)?;
        let version = cell("version");
        let current = recorded.as_ref().map(|row| row.version.to_string());
        if version != current {
            let message = match (&current, &version) {
                (Some(now), Some(then)) => {
                    format!("was changed since the sheet was downloaded (version {then}, now {now}): download it again")
                }
                (Some(now), None) => {
                    format!("was recorded since the sheet was downloaded (now version {now}): download it again")
                }
                _ => "was deleted since the sheet was downloaded: download it again".into(),
            };
            refuse(&mut outcome, "version", message);
            conflicts = true;
            outcomes.push(outcome);
            continue;
        }
        let checked = result_api::check_year(kpi, year).and_then(|()| result_api::values_of(form));
        let values = match checked {
            Ok(values) => values,
            Err(ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. }) => {
                for error in errors {
                    refuse(&mut outcome, &error.field, error.message);
                }
                unfit = true;
                outcomes.push(outcome);
                continue;
            }
            Err(other) => return Err(other),
        };
        let after = fields_of(
            &values.value,
            values.status,
            [&values.note, &values.source, &values.analysis, &values.next_steps],
        );
        match &recorded {
            None => outcome.outcome = "created",
            Some(row) => {
                let before = fields_of(
                    &row.value,
                    &row.status,
                    [&row.note, &row.source, &row.analysis, &row.next_steps],
                );
                outcome.changes = before
                    .into_iter()
                    .zip(after)
                    .filter(|((_, from), (_, to))| from != to)
                    .map(|((field, from), (_, to))| FieldChange { field, from, to })
                    .collect();
                outcome.outcome = if outcome.changes.is_empty() {
                    "unchanged"
                } else {
                    "changed"
                };
            }
        }
        if outcome.outcome != "unchanged" {
            writes.push(((*kpi).clone(), year, values, recorded));
        }
        outcomes.push(outcome);
    }
    let mut counts = OutcomeCounts::default();
    for outcome in &outcomes {
        match outcome.outcome {
            "created" => counts.created += 1,
            "changed" => counts.changed += 1,
            "unchanged" => counts.unchanged += 1,
            _ => counts.refused += 1,
        }
    }
    let report = ResultsImportReport {
        dry_run,
        plan_id,
        counts,
        rows: outcomes,
    };
    if dry_run {
        return Ok(report);
    }
    let problems: Vec<FieldError> = report.rows.iter().flat_map(|row| row.problems.clone()).collect();
    let rows_named = |problems: &[FieldError]| {
        problems
            .iter()
            .map(|problem| problem.field.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    if forbidden {
        return Err(ApiError::ForbiddenFields {
            detail: format!(
                "nothing was recorded: the sheet has rows of other departments' KPIs: {}",
                rows_named(&problems)
            ),
            errors: problems,
        });
    }
    if conflicts && !unfit {
        return Err(ApiError::Stale {
            detail: format!(
                "nothing was recorded: rows changed since the sheet was downloaded: {}",
                rows_named(&problems)
            ),
            errors: problems,
        });
    }
    if !problems.is_empty() {
        return Err(ApiError::refusals(problems));
    }
    for (kpi, year, values, recorded) in writes {
        results::put(conn, kpi.id, year, &values)?;
        results::refresh_status(conn, kpi.id)?;
        let after = results::find(conn, kpi.id, year)?.ok_or_else(|| ApiError::Internal("result vanished".into()))?;
        let json = |row: ResultRow| {
            crate::api::records::to_json(&result_api::view(&kpi, row))
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        let operation = if recorded.is_some() {
            Operation::Update
        } else {
            Operation::Create
        };
        let write = (results::RESULT_RESOURCE, kpi.id, operation);
        actor.audit(conn, write, recorded.map(json).transpose()?, Some(json(after)?))?;
    }
    Ok(report)
}
