//! The report as the city's staff keep their KPI list in Excel: one row per KPI, a column per
//! fiscal year, numbers as numbers with the published decimal places, a header row that stays in
//! view and filters; a second sheet says what the figures are and when they stood.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{KpiLine, Report};
use crate::domain::era;
use crate::domain::kpi::YearType;
use crate::error::ApiError;

/// The fixed columns before the years, with their widths.
const LEADING: [(&str, f64); 11] = [
    ("基本目標", 28.0),
    ("具体的な施策", 28.0),
    ("主な取組", 28.0),
    ("番号", 9.0),
    ("指標名", 40.0),
    ("単位", 8.0),
    ("基準値", 11.0),
    ("基準年度", 16.0),
    ("当初目標値", 11.0),
    ("目標値", 11.0),
    ("目標年度", 16.0),
];

/// The columns after the years.
const TRAILING: [(&str, f64); 6] = [
    ("達成率", 9.0),
    ("当初目標に対する達成率", 12.0),
    ("進捗状況", 11.0),
    ("評価", 7.0),
    ("最新実績の年度", 16.0),
    ("担当課", 36.0),
];

fn failed(error: XlsxError) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// An Excel number format with as many places as the published decimal has, grouped by thousands.
fn places_format(text: &str) -> Format {
    let places = text.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    let pattern = if places == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{}", "0".repeat(places))
    };
    Format::new().set_num_format(pattern).set_border(FormatBorder::Thin)
}

/// Writes a published decimal as a number in its own places, or "―" where there is none.
fn write_decimal(sheet: &mut Worksheet, row: u32, col: u16, text: Option<&str>, cell: &Format) -> Result<(), ApiError> {
    match text.and_then(|text| text.parse::<f64>().ok().map(|number| (text, number))) {
        Some((text, number)) => sheet.write_number_with_format(row, col, number, &places_format(text)),
        None => sheet.write_string_with_format(row, col, "―", cell),
    }
    .map_err(failed)?;
    Ok(())
}

fn write_rate(sheet: &mut Worksheet, row: u32, col: u16, rate: Option<f64>, formats: &Formats) -> Result<(), ApiError> {
    match rate {
        Some(rate) => sheet.write_number_with_format(row, col, rate, &formats.rate),
        None => sheet.write_string_with_format(row, col, "―", &formats.text),
    }
    .map_err(failed)?;
    Ok(())
}

struct Formats {
    header: Format,
    text: Format,
    rate: Format,
}

/// The report as an xlsx workbook.
pub fn to_xlsx(report: &Report) -> Result<Vec<u8>, ApiError> {
    let mut workbook = Workbook::new();
    // Dated by the data, not the clock: the same figures give the same bytes and ETag.
    let created = ExcelDateTime::from_timestamp(report.last_change().timestamp()).map_err(failed)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("{} KPI一覧", report.plan.plan.name))
            .set_author(report.plan.plan.publisher.clone().unwrap_or_default())
            .set_creation_datetime(&created),
    );
    let formats = Formats {
        header: crate::transfer::sheet::header_format(),
        text: Format::new()
            .set_border(FormatBorder::Thin)
            .set_text_wrap()
            .set_align(rust_xlsxwriter::FormatAlign::Top),
        rate: Format::new().set_num_format("0.0%").set_border(FormatBorder::Thin),
    };
    let sheet = workbook.add_worksheet();
    sheet.set_name("KPI一覧").map_err(failed)?;
    let year_columns: Vec<String> = report
        .years
        .iter()
        .map(|year| format!("{}実績", era::label(*year, YearType::Fiscal)))
        .collect();
    let headers = LEADING
        .iter()
        .map(|(label, width)| (label.to_string(), *width))
        .chain(year_columns.into_iter().map(|label| (label, 12.0)))
        .chain(TRAILING.iter().map(|(label, width)| (label.to_string(), *width)));
    let mut columns = 0_u16;
    for (col, (label, width)) in headers.enumerate() {
        let col = col as u16;
        sheet.set_column_width(col, width).map_err(failed)?;
        sheet
            .write_string_with_format(0, col, &label, &formats.header)
            .map_err(failed)?;
        columns = col + 1;
    }
    let mut row = 0_u32;
    for goal in &report.goals {
        let goal_title = super::goal_heading(&goal.goal);
        for measure in &goal.measures {
            let measure_title = super::measure_heading(&measure.measure);
            for initiative in &measure.initiatives {
                let initiative_title = super::initiative_heading(&initiative.initiative);
                for line in &initiative.kpis {
                    row += 1;
                    let titles = [goal_title.as_str(), measure_title.as_str(), initiative_title.as_str()];
                    write_line(sheet, row, &titles, line, &report.years, &formats)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(failed)?;
    sheet.autofilter(0, 0, row.max(1), columns - 1).map_err(failed)?;
    sheet.set_row_height(0, 30).map_err(failed)?;

    let about = workbook.add_worksheet();
    about.set_name("説明").map_err(failed)?;
    about.set_column_width(0, 110).map_err(failed)?;
    let plan = &report.plan.plan;
    let lines = [
        plan.name.clone(),
        format!("{}（{}）", report.standing.describe(), plan.municipality_name),
        String::new(),
        "1行が1指標です。実績値・基準値・目標値は数値で、公表資料の小数点以下の桁数で表示しています。".into(),
        "達成率は（実績値－基準値）÷（目標値－基準値）です。基準値のない指標は実績値÷目標値、現状維持の指標は目標値以上で100%です。".into(),
        "進捗状況：◎達成（達成率100%以上）、○順調（目標年度に向けた計画どおりの割合以上）、△遅れ、－未把握（実績なし）、×測定不能。".into(),
        "目標値を見直した指標は、当初目標値と当初目標に対する達成率も示しています。".into(),
        "暦年で把握する指標の実績は、その年の欄に示しています。".into(),
        format!("出典：{}", plan.document_title),
    ];
    for (index, line) in lines.iter().enumerate() {
        about.write_string(index as u32, 0, line).map_err(failed)?;
    }
    workbook.save_to_buffer().map_err(failed)
}

fn write_line(
    sheet: &mut Worksheet,
    row: u32,
    titles: &[&str; 3],
    line: &KpiLine,
    years: &[i32],
    formats: &Formats,
) -> Result<(), ApiError> {
    let kpi = &line.kpi;
    let text = |sheet: &mut Worksheet, col: u16, value: &str| {
        sheet
            .write_string_with_format(row, col, value, &formats.text)
            .map(|_| ())
            .map_err(failed)
    };
    for (col, title) in titles.iter().enumerate() {
        text(sheet, col as u16, title)?;
    }
    text(sheet, 3, &kpi.code)?;
    text(sheet, 4, &kpi.name)?;
    text(sheet, 5, &kpi.unit)?;
    write_decimal(sheet, row, 6, kpi.baseline.value_text.as_deref(), &formats.text)?;
    text(sheet, 7, &kpi.baseline.label)?;
    let original = line.original_target.as_ref().unwrap_or(&kpi.target);
    write_decimal(sheet, row, 8, original.value_text.as_deref(), &formats.text)?;
    write_decimal(sheet, row, 9, kpi.target.value_text.as_deref(), &formats.text)?;
    text(sheet, 10, &kpi.target.label)?;
    let mut col = LEADING.len() as u16;
    for year in years {
        match line.result_in(*year) {
            Some(result) if result.status != crate::db::results::NOT_MEASURABLE => {
                write_decimal(sheet, row, col, result.value_text.as_deref(), &formats.text)?
            }
            Some(_) => text(sheet, col, "測定不能")?,
            None => sheet.write_blank(row, col, &formats.text).map(|_| ()).map_err(failed)?,
        }
        col += 1;
    }
    let progress = &kpi.progress;
    write_rate(sheet, row, col, progress.achievement, formats)?;
    match &line.original_target {
        Some(_) => write_rate(sheet, row, col + 1, line.original_achievement, formats)?,
        None => sheet
            .write_blank(row, col + 1, &formats.text)
            .map(|_| ())
            .map_err(failed)?,
    }
    text(
        sheet,
        col + 2,
        &format!("{} {}", progress.status.symbol(), progress.status.label()),
    )?;
    text(sheet, col + 3, progress.grade.as_deref().unwrap_or("―"))?;
    let latest = progress
        .latest_year
        .map(|year| era::label(year, kpi.target.year_type))
        .unwrap_or_else(|| "―".into());
    text(sheet, col + 4, &latest)?;
    text(sheet, col + 5, &line.divisions.join("、"))?;
    Ok(())
}
