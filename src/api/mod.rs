//! HTTP: request parsing, response views and handlers, one file per resource.

pub mod catalog;
pub mod changes;
mod csv_output;
pub mod departments;
pub mod evaluations;
pub mod export;
pub mod goals;
pub mod health;
pub mod imports;
pub mod kpis;
pub mod linked_data;
pub mod plans;
pub mod progress;
pub mod projects;
mod query;
pub mod records;
pub mod reports;
pub mod result_sheets;
pub mod results;
pub mod target_revisions;
pub mod webhooks;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::{Database, DbConnection, Listing, Page};
use crate::error::ApiError;
use csv_output::CsvWriter;
pub use query::{CommonParams, Format, Output, OutputParams, PageParams, QueryParams};

/// Base path of the versioned API.
pub const API_BASE: &str = "/api/v1";

/// Registers every handler; utoipa-actix-web collects their OpenAPI paths as it goes.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(catalog::negotiate)
        .service(catalog::turtle)
        .service(catalog::json_ld)
        .service(
            utoipa_actix_web::scope(API_BASE)
                .service(plans::list)
                .service(plans::create)
                .service(imports::import_plan)
                .service(imports::plan_schema)
                .service(plans::get)
                .service(plans::update)
                .service(plans::delete)
                .service(export::export_json)
                .service(export::export_zip)
                .service(export::table_schema)
                .service(linked_data::context)
                .service(reports::report_xlsx)
                .service(reports::evaluation_report_xlsx)
                .service(evaluations::create)
                .service(evaluations::list)
                .service(evaluations::get)
                .service(goals::list_goals)
                .service(goals::create_goal)
                .service(goals::get_goal)
                .service(goals::update_goal)
                .service(goals::delete_goal)
                .service(goals::list_measures)
                .service(goals::create_measure)
                .service(goals::get_measure)
                .service(goals::update_measure)
                .service(goals::delete_measure)
                .service(goals::list_initiatives)
                .service(goals::create_initiative)
                .service(goals::get_initiative)
                .service(goals::update_initiative)
                .service(goals::delete_initiative)
                .service(kpis::list)
                .service(kpis::create)
                .service(kpis::get)
                .service(kpis::update)
                .service(kpis::delete)
                .service(target_revisions::revise)
                .service(results::list)
                .service(results::get)
                .service(results::put)
                .service(results::remove)
                .service(results::chart_svg)
                .service(result_sheets::template_xlsx)
                .service(result_sheets::template_csv)
                .service(result_sheets::import)
                .service(projects::list)
                .service(projects::create)
                .service(projects::get)
                .service(projects::update)
                .service(projects::delete)
                .service(departments::list_departments)
                .service(departments::create_department)
                .service(departments::get_department)
                .service(departments::update_department)
                .service(departments::delete_department)
                .service(departments::list_divisions)
                .service(departments::create_division)
                .service(departments::get_division)
                .service(departments::update_division)
                .service(departments::delete_division)
                .service(progress::plan)
                .service(progress::goal)
                .service(progress::measure)
                .service(progress::initiative)
                .service(progress::department)
                .service(changes::changes)
                .service(changes::stream)
                .service(changes::audit)
                .service(webhooks::list)
                .service(webhooks::create)
                .service(webhooks::get)
                .service(webhooks::update)
                .service(webhooks::remove)
                .service(webhooks::rotate_secret)
                .service(webhooks::deliveries)
                .service(webhooks::redeliver),
        );
}

/// One page of a collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct Collection<T: ToSchema> {
    /// The records on this page.
    pub items: Vec<T>,
    /// How many records match the filters, over all pages.
    #[schema(example = 45)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: i64,
    /// How many matching records precede this page.
    #[schema(example = 0)]
    pub offset: i64,
}

/// Answers a page of a collection, with an RFC 8288 `Link` header to the next and previous pages.
pub fn collection<R, T>(request: &HttpRequest, listing: Listing<R>) -> Result<HttpResponse, ApiError>
where
    T: From<R> + ToSchema + Serialize,
{
    let (total, limit, offset) = (listing.total, listing.limit, listing.offset);
    let body = Collection {
        items: listing.items.into_iter().map(T::from).collect::<Vec<T>>(),
        total,
        limit,
        offset,
    };
    let links = page_links(request, total, limit, offset);
    let mut response = HttpResponse::Ok();
    if !links.is_empty() {
        response.insert_header((header::LINK, links));
    }
    if !crate::linked_data::wanted(request) {
        return Ok(response.json(body));
    }
    let address = match request.query_string() {
        "" => request.path().to_string(),
        query => format!("{}?{query}", request.path()),
    };
    let collection = request.path().rsplit('/').next().unwrap_or_default();
    let page = serde_json::to_value(&body).map_err(|error| ApiError::Internal(error.to_string()))?;
    let document = crate::linked_data::collection(page, &base_url(request), &address, collection);
    Ok(response
        .content_type(crate::linked_data::MEDIA_TYPE)
        .body(document.to_string()))
}

/// Rows per database round trip when a whole collection streams as CSV.
const STREAM_BATCH: i64 = 500;

/// Answers a collection as JSON, as one CSV page, or (`limit=all`) as every row of it streamed as
/// CSV batch by batch, never built whole in memory. `load` reads one page of the filtered collection.
pub async fn list_response<R, T, F>(
    db: &Database,
    request: &HttpRequest,
    page: Page,
    output: Output,
    load: F,
) -> Result<HttpResponse, ApiError>
where
    R: Send + 'static,
    T: From<R> + ToSchema + Serialize + 'static,
    F: Fn(&mut DbConnection, Page) -> Result<Listing<R>, ApiError> + Send + Sync + 'static,
{
    if !output.csv {
        let listing = db.run(move |conn| load(conn, page)).await?;
        return collection::<R, T>(request, listing);
    }
    let filename = request.path().rsplit('/').next().unwrap_or("collection").to_string();
    let mut response = HttpResponse::Ok();
    response.content_type("text/csv; charset=utf-8").insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}.csv\""),
    ));
    // A collection that is also a file of export.zip has that file's Table Schema, which
    // `/api/v1/schemas/{name}.json` serves and the catalogue names: the same columns, always.
    let writer = move || match crate::data_package::table(&filename) {
        Some(table) => CsvWriter::with_columns(table.columns()).with_bom(output.bom),
        None => CsvWriter::new(output.bom),
    };
    if !output.all {
        let listing = db.run(move |conn| load(conn, page)).await?;
        let links = page_links(request, listing.total, listing.limit, listing.offset);
        if !links.is_empty() {
            response.insert_header((header::LINK, links));
        }
        let records = json_records::<R, T>(listing.items)?;
        let body = writer()
            .batch(&records)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        return Ok(response.body(body));
    }
    let load = std::sync::Arc::new(load);
    let db = db.clone();
    let sort = page.sort;
    let batches = futures_util::stream::unfold((Some(0_i64), writer()), move |(offset, mut writer)| {
        let (db, load, sort) = (db.clone(), load.clone(), sort.clone());
        async move {
            let offset = offset?;
            let batch = Page {
                limit: STREAM_BATCH,
                offset,
                sort,
            };
            let rows = db.run(move |conn| load(conn, batch)).await.and_then(|listing| {
                let next = (offset + STREAM_BATCH < listing.total).then_some(offset + STREAM_BATCH);
                let records = json_records::<R, T>(listing.items)?;
                let bytes = writer
                    .batch(&records)
                    .map_err(|error| ApiError::Internal(error.to_string()))?;
                Ok((bytes, next))
            });
            Some(match rows {
                Ok((bytes, next)) => (Ok(web::Bytes::from(bytes)), (next, writer)),
                Err(error) => (Err(actix_web::Error::from(error)), (None, writer)),
            })
        }
    });
    Ok(response.streaming(batches))
}

fn json_records<R, T: From<R> + Serialize>(items: Vec<R>) -> Result<Vec<serde_json::Value>, ApiError> {
    items
        .into_iter()
        .map(|item| serde_json::to_value(T::from(item)).map_err(|error| ApiError::Internal(error.to_string())))
        .collect()
}

/// `Link` to the next and previous pages, or nothing on a single page.
fn page_links(request: &HttpRequest, total: i64, limit: i64, offset: i64) -> String {
    let mut links = Vec::new();
    if offset + limit < total {
        links.push(page_link(request, offset + limit, "next"));
    }
    if offset > 0 {
        links.push(page_link(request, (offset - limit).max(0), "prev"));
    }
    links.join(", ")
}

/// The request's own URL with another `offset`, every other parameter kept.
fn page_link(request: &HttpRequest, offset: i64, rel: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(request.query_string().as_bytes()) {
        if key != "offset" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("offset", &offset.to_string());
    format!("<{}?{}>; rel=\"{rel}\"", request.path(), query.finish())
}

/// Timestamps are stored as UTC without a zone; the API states the zone.
pub fn utc(timestamp: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(timestamp, Utc)
}

/// Where the service is reached from, for the absolute addresses of the structured data: the
/// configured public address, else the request's `Host` (part of the response cache's key).
pub fn base_url(request: &HttpRequest) -> String {
    if let Some(base) = request
        .app_data::<web::Data<PublicBaseUrl>>()
        .and_then(|base| base.0.clone())
    {
        return base;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte))
                // A host and port as a URL has them (`x:y` or `]` is none): the address becomes IRIs.
                && url::Url::parse(&format!("http://{host}/")).is_ok_and(|url| url.host().is_some())
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `PUBLIC_BASE_URL`, if configured.
pub struct PublicBaseUrl(pub Option<String>);
