//! Collections as CSV: flat columns named after the JSON fields, UTF-8, CRLF, RFC 4180 quoting.

use serde_json::{Map, Value};

/// The columns and cells of one JSON record: nested objects become `parent_child` columns
/// (`baseline_value`), lists are joined with `;` (a list of objects gives one joined column per
/// field: `divisions_name`), null is an empty cell.
pub fn flatten(record: &Value) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    if let Value::Object(fields) = record {
        flatten_into(&mut cells, "", fields);
    }
    cells
}

fn flatten_into(cells: &mut Vec<(String, String)>, prefix: &str, fields: &Map<String, Value>) {
    for (key, value) in fields {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}_{key}")
        };
        match value {
            Value::Object(nested) => flatten_into(cells, &name, nested),
            Value::Array(items) if items.iter().any(Value::is_object) => {
                let mut columns: Vec<(String, Vec<String>)> = Vec::new();
                for item in items {
                    for (column, cell) in flatten(item) {
                        match columns.iter_mut().find(|(existing, _)| *existing == column) {
                            Some((_, joined)) => joined.push(cell),
                            None => columns.push((column, vec![cell])),
                        }
                    }
                }
                for (column, joined) in columns {
                    cells.push((format!("{name}_{column}"), joined.join(";")));
                }
            }
            Value::Array(items) => cells.push((name, items.iter().map(cell).collect::<Vec<_>>().join(";"))),
            scalar => cells.push((name, cell(scalar))),
        }
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Writes CSV rows; the header is the given columns, or else the columns of the first batch, in field order.
pub struct CsvWriter {
    columns: Option<Vec<String>>,
    header_written: bool,
    bom: bool,
}

impl CsvWriter {
    pub fn new(bom: bool) -> Self {
        CsvWriter {
            columns: None,
            header_written: false,
            bom,
        }
    }

    /// A writer of exactly these columns (a table's schema): the header row is there even when no
    /// record follows, and every record gives its cells of these columns.
    pub fn with_columns(columns: Vec<String>) -> Self {
        CsvWriter {
            columns: Some(columns),
            header_written: false,
            bom: false,
        }
    }

    /// Starts the file with a byte-order mark (for Excel).
    pub fn with_bom(mut self, bom: bool) -> Self {
        self.bom = bom;
        self
    }

    /// The bytes for a batch of records: the BOM and header row before the first batch.
    pub fn batch(&mut self, records: &[Value]) -> Result<Vec<u8>, csv::Error> {
        let flattened: Vec<Vec<(String, String)>> = records.iter().map(flatten).collect();
        let mut out = Vec::new();
        if !self.header_written {
            let columns = self.columns.get_or_insert_with(|| {
                let mut columns: Vec<String> = Vec::new();
                for record in &flattened {
                    for (column, _) in record {
                        if !columns.contains(column) {
                            columns.push(column.clone());
                        }
                    }
                }
                columns
            });
            if self.bom {
                out.extend_from_slice("\u{feff}".as_bytes());
            }
            let mut writer = writer(&mut out);
            writer.write_record(columns.iter())?;
            writer.flush()?;
            self.header_written = true;
        }
        let columns = self.columns.as_deref().unwrap_or_default();
        let mut writer = writer(&mut out);
        for record in &flattened {
            writer.write_record(columns.iter().map(|column| {
                record
                    .iter()
                    .find(|(name, _)| name == column)
                    .map_or("", |(_, cell)| cell.as_str())
            }))?;
        }
        writer.flush()?;
        drop(writer);
        Ok(out)
    }
}

fn writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_values_become_flat_columns() {
        let project = json!({
            "id": 1, "name": "健康づくり事業", "account": null,
            "divisions": [{"id": 28, "name": "健康長寿推進課", "department": {"name": "市民健康部"}},
                          {"id": 29, "name": "健康づくり課", "department": {"name": "市民健康部"}}],
            "tags": ["a", "b"],
            "baseline": {"value": 98.81, "year": 2019}
        });
        let cells = flatten(&project);
        let get = |name: &str| {
            cells
                .iter()
                .find(|(column, _)| column == name)
                .map(|(_, cell)| cell.as_str())
        };
        assert_eq!(get("account"), Some(""));
        assert_eq!(get("divisions_name"), Some("健康長寿推進課;健康づくり課"));
        assert_eq!(get("divisions_department_name"), Some("市民健康部;市民健康部"));
        assert_eq!(get("tags"), Some("a;b"));
        assert_eq!(get("baseline_value"), Some("98.81"));
        let columns: Vec<&str> = cells.iter().map(|(column, _)| column.as_str()).collect();
        assert_eq!(columns[..3], ["id", "name", "account"], "field order is kept");
    }

    #[test]
    fn rows_are_rfc_4180_with_crlf_and_an_optional_bom() {
        let mut writer = CsvWriter::new(true);
        let first = writer.batch(&[json!({"id": 1, "text": "a, \"b\"\nc"})]).unwrap();
        let second = writer.batch(&[json!({"id": 2, "text": "plain"})]).unwrap();
        let text = String::from_utf8(first).unwrap();
        assert_eq!(text, "\u{feff}id,text\r\n1,\"a, \"\"b\"\"\nc\"\r\n");
        assert_eq!(String::from_utf8(second).unwrap(), "2,plain\r\n");
    }
}
