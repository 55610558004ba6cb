//! Query-string parsing with errors that name the parameter, and no unknown parameter let through.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::goals::CommonFilter;
use crate::db::{Page, SortKey};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// Most records a page may skip: offsets are 32-bit on every backend.
pub const MAX_OFFSET: i64 = i32::MAX as i64;
/// Longest accepted value of a text parameter (`q`, `code`), in characters.
pub const MAX_TEXT_LENGTH: usize = 200;

/// How the document states the parameters that `QueryParams` reads, built from the same bounds so
/// that the two cannot drift apart.
pub mod documented {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};

    use crate::domain::validate::{CONTROL_CLASS, SPACE_CLASS};

    macro_rules! documented_as {
        ($(#[$doc:meta] $name:ident => $schema:expr;)*) => {$(
            #[$doc]
            #[derive(Debug)]
            pub struct $name;

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    $schema
                }
            }

            impl utoipa::ToSchema for $name {}
        )*};
    }

    documented_as! {
        /// A text parameter (`QueryParams::text`): not blank, no control characters, at most 200 characters.
        Text => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(super::MAX_TEXT_LENGTH))
            .pattern(Some(format!("^[^{CONTROL_CLASS}]*[^{SPACE_CLASS}{CONTROL_CLASS}][^{CONTROL_CLASS}]*$")))
            .into();
        /// A time (`QueryParams::timestamp`): RFC 3339.
        Time => ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into();
        /// A moment (`QueryParams::moment`): a date (the end of that day in Japan) or an RFC 3339 time.
        Moment => AnyOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
            .into();
        /// A page size (`QueryParams::page`): 1 to 500.
        Limit => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(super::MAX_LIMIT))
            .default(Some(super::DEFAULT_LIMIT.into()))
            .into();
        /// Records to skip (`QueryParams::page`): 0 to 2147483647.
        Offset => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(super::MAX_OFFSET))
            .default(Some(0.into()))
            .into();
        /// A position in the change feed (`since`): 0 for the start.
        Cursor => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .default(Some(0.into()))
            .into();
        /// How many changes one answer lists: 1 to `changes::MAX_CHANGES`, that many by default.
        ChangeLimit => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(crate::api::changes::MAX_CHANGES))
            .default(Some(crate::api::changes::MAX_CHANGES.into()))
            .into();
        /// A record id (`QueryParams::id`): a positive integer.
        Id => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .into();
    }
}

/// Filters every collection has.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommonParams {
    /// Only records of this plan (its id).
    #[param(example = 1, inline)]
    pub plan: Option<documented::Id>,
    /// Only the record with this code, e.g. `1-2-1` for an initiative or `P001` for a project.
    #[param(example = "1", inline)]
    pub code: Option<documented::Text>,
}

/// Paging of every collection.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size: 1 to 500, default 50; `all` streams every row, with `format=csv`.
    #[param(inline)]
    pub limit: Option<documented::Limit>,
    /// Records to skip, default 0.
    #[param(inline)]
    pub offset: Option<documented::Offset>,
    /// Order: comma-separated fields, `-` before one for descending (`name,-id`); unknown fields are
    /// a 400 that names the sortable ones. Default: by id, the document's order. The document lists
    /// each collection's fields (`openapi::with_sort_fields`).
    #[param(example = "-id")]
    pub sort: Option<String>,
}

/// How a collection answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// CSV instead of JSON (`?format=csv` or `Accept: text/csv`).
    pub csv: bool,
    /// A UTF-8 byte-order mark first, for Excel on Windows.
    pub bom: bool,
    /// Every row, streamed (`limit=all`, CSV only).
    pub all: bool,
}

/// A representation a client can ask for with `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!("must be `json` or `csv`, not `{}`", shorten(other))),
        }
    }
}

/// Output parameters of every collection.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutputParams {
    /// `json` (default) or `csv`; `Accept: text/csv` also gives CSV. CSV has one header row of the
    /// JSON field names (nested ones as `baseline_value`, lists joined by `;`), UTF-8, CRLF.
    #[param(inline)]
    pub format: Option<Format>,
    /// With CSV: start with a UTF-8 byte-order mark, for Excel on Windows.
    pub bom: Option<bool>,
}

/// The parameters of one request, taken one by one by name; whatever is left over is an error.
#[derive(Debug)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl QueryParams {
    pub fn parse(query_string: &str) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
            if values.insert(key.to_string(), value.to_string()).is_some() {
                return Err(ApiError::bad_request(key, "is given more than once"));
            }
        }
        Ok(QueryParams { values })
    }

    /// A record id: a positive integer.
    pub fn id(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(text) => match text.parse::<i64>() {
                Ok(id) if id >= 1 => Ok(Some(id)),
                _ => Err(ApiError::bad_request(
                    name,
                    format!("must be a positive integer id, not `{}`", shorten(&text)),
                )),
            },
        }
    }

    /// A non-empty text of at most `MAX_TEXT_LENGTH` characters.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(text) if text.trim().is_empty() => Err(ApiError::bad_request(name, "must not be empty")),
            Some(text) if text.chars().count() > MAX_TEXT_LENGTH => Err(ApiError::bad_request(
                name,
                format!("must be at most {MAX_TEXT_LENGTH} characters"),
            )),
            Some(text) if text.chars().any(char::is_control) => {
                Err(ApiError::bad_request(name, "must not contain control characters"))
            }
            Some(text) => Ok(Some(text)),
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.values.remove(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(
                name,
                format!("must be `true` or `false`, not `{}`", shorten(other)),
            )),
        }
    }

    /// A value from a fixed set.
    pub fn choice<T: std::str::FromStr<Err = String>>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|message| ApiError::bad_request(name, message)),
        }
    }

    pub fn common(&mut self) -> Result<CommonFilter, ApiError> {
        Ok(CommonFilter {
            plan: self.id("plan")?,
            code: self.text("code")?,
        })
    }

    /// JSON or CSV, and `limit=all` for a streamed CSV of every row; read before `page`.
    pub fn output(&mut self, request: &actix_web::HttpRequest) -> Result<Output, ApiError> {
        let csv = match self.choice::<Format>("format")? {
            Some(format) => format == Format::Csv,
            None => request
                .headers()
                .get(actix_web::http::header::ACCEPT)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|accept| accept.contains("text/csv")),
        };
        let bom = self.boolean("bom")?.unwrap_or(false);
        let all = self.values.get("limit").is_some_and(|limit| limit == "all");
        if all {
            if !csv {
                return Err(ApiError::bad_request(
                    "limit",
                    "`all` is for CSV (format=csv); JSON pages have at most 500 records",
                ));
            }
            self.values.remove("limit");
        }
        Ok(Output { csv, bom, all })
    }

    /// `limit`, `offset` and `sort` (`name,-id`: fields of `sortable`, `-` for descending).
    pub fn page(&mut self, sortable: &[&str]) -> Result<Page, ApiError> {
        let limit = self.bounded("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let offset = self.bounded("offset", 0, MAX_OFFSET)?.unwrap_or(0);
        let mut sort: Vec<SortKey> = Vec::new();
        if let Some(text) = self.values.remove("sort") {
            for part in text.split(',') {
                let (field, descending) = match part.strip_prefix('-') {
                    Some(field) => (field, true),
                    None => (part, false),
                };
                if !sortable.contains(&field) {
                    return Err(ApiError::bad_request(
                        "sort",
                        format!("`{}` is not sortable; sort by {}", shorten(field), sortable.join(", ")),
                    ));
                }
                // `id,id` is a slip; in `id,-id` the second key can never decide, so it is dropped.
                if let Some(earlier) = sort.iter().find(|key| key.field == field) {
                    if earlier.descending == descending {
                        return Err(ApiError::bad_request(
                            "sort",
                            format!("`{}` is given twice", shorten(part)),
                        ));
                    }
                    continue;
                }
                sort.push(SortKey {
                    field: field.to_string(),
                    descending,
                });
            }
        }
        Ok(Page { limit, offset, sort })
    }

    pub fn bounded(&mut self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(text) => match text.parse::<i64>() {
                Ok(value) if (min..=max).contains(&value) => Ok(Some(value)),
                _ => Err(ApiError::bad_request(
                    name,
                    format!("must be an integer from {min} to {max}, not `{}`", shorten(&text)),
                )),
            },
        }
    }

    /// An RFC 3339 timestamp, as UTC.
    pub fn timestamp(&mut self, name: &str) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
                .map(|time| Some(time.naive_utc()))
                .map_err(|_| {
                    ApiError::bad_request(
                        name,
                        format!(
                            "must be an RFC 3339 time like 2026-04-01T00:00:00Z, not `{}`",
                            shorten(&text)
                        ),
                    )
                }),
        }
    }

    /// A moment: an RFC 3339 time, or a date meaning the end of that day in Japan (UTC+9), when
    /// the city's working day ends.
    pub fn moment(&mut self, name: &str) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
        let Some(text) = self.values.get(name).cloned() else {
            return Ok(None);
        };
        if let Ok(date) = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            self.values.remove(name);
            let end_of_day_in_japan = date
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .map(|time| time - chrono::TimeDelta::hours(9));
            return end_of_day_in_japan
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(name, "is not a date"));
        }
        self.timestamp(name).map_err(|_| {
            ApiError::bad_request(
                name,
                format!(
                    "must be a date like 2026-06-30 or an RFC 3339 time, not `{}`",
                    shorten(&text)
                ),
            )
        })
    }

    /// Fails on any parameter no one asked for: a misspelt filter must not silently return everything.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.values.is_empty() {
            return Ok(());
        }
        let errors = self
            .values
            .keys()
            .map(|name| crate::error::FieldError {
                field: shorten(name),
                message: "is not a parameter of this endpoint".into(),
            })
            .collect::<Vec<_>>();
        let names = errors
            .iter()
            .map(|error| format!("`{}`", error.field))
            .collect::<Vec<_>>();
        Err(ApiError::BadRequest {
            detail: format!("unknown query parameter(s): {}", names.join(", ")),
            errors,
        })
    }
}

/// Echoes at most a short prefix of client input in error messages.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(SHOWN).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_defaults_and_bounds() {
        let page = QueryParams::parse("").unwrap().page(&["id"]).unwrap();
        assert_eq!((page.limit, page.offset), (50, 0));
        for bad in [
            "limit=0",
            "limit=501",
            "limit=-1",
            "limit=abc",
            "offset=-1",
            "limit=1e3",
        ] {
            assert!(QueryParams::parse(bad).unwrap().page(&["id"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn sort_keys_are_checked_against_the_sortable_fields() {
        let page = QueryParams::parse("sort=name,-id")
            .unwrap()
            .page(&["id", "name"])
            .unwrap();
        assert_eq!(page.sort.len(), 2);
        assert!(page.sort[1].descending && page.sort[1].field == "id");
        let error = QueryParams::parse("sort=colour")
            .unwrap()
            .page(&["id", "name"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("id, name"), "{error}");
        assert!(QueryParams::parse("sort=id,id").unwrap().page(&["id"]).is_err());
        assert!(QueryParams::parse("sort=-id,-id").unwrap().page(&["id"]).is_err());
        let page = QueryParams::parse("sort=-id,name,id")
            .unwrap()
            .page(&["id", "name"])
            .unwrap();
        assert_eq!(
            page.sort.len(),
            2,
            "a later key on a field already sorted by is dropped"
        );
        assert!(page.sort[0].descending && page.sort[0].field == "id");
        assert!(QueryParams::parse("sort=").unwrap().page(&["id"]).is_err());
    }

    #[test]
    fn unknown_and_repeated_parameters_are_errors() {
        let mut params = QueryParams::parse("goal=1&colour=red").unwrap();
        assert_eq!(params.id("goal").unwrap(), Some(1));
        let error = params.finish().unwrap_err().to_string();
        assert!(error.contains("`colour`"), "{error}");
        assert!(QueryParams::parse("goal=1&goal=2").is_err());
    }

    #[test]
    fn ids_are_positive_integers() {
        for bad in ["goal=x", "goal=0", "goal=-3", "goal=1.5", "goal=99999999999999999999"] {
            assert!(QueryParams::parse(bad).unwrap().id("goal").is_err(), "{bad}");
        }
    }
}
