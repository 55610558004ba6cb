//! The web pages people read: the plans (`/`), a plan's evaluation report (`/plans/{id}`) and one
//! KPI (`/plans/{id}/kpis/{kpi}`), in Japanese, rendered on the server from the same report model
//! as the workbook (`crate::report`); no script is needed to read them. Templates under
//! `templates/` are checked when the service is compiled (askama).

mod views;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::api::QueryParams;
use crate::db::Database;
use crate::error::ApiError;

/// The stylesheet of every page, screen and A4 print.
const STYLESHEET: &str = include_str!("../../assets/report.css");
pub const STYLESHEET_PATH: &str = "/assets/report.css";

/// Whether a path is one of the pages (or their stylesheet): read like the API, with ETags,
/// 304s and the response cache.
pub fn serves(path: &str) -> bool {
    is_page(path) || path == STYLESHEET_PATH
}

/// Whether a path is one of the pages (not their stylesheet).
pub fn is_page(path: &str) -> bool {
    path == "/" || path.starts_with("/plans/") || path == crate::linked_data::VOCABULARY_PATH
}

/// The pages' paths, each answering GET (and HEAD) alone.
pub const PATHS: [&str; 5] = [
    "/",
    "/plans/{id}",
    "/plans/{id}/kpis/{kpi}",
    crate::linked_data::VOCABULARY_PATH,
    STYLESHEET_PATH,
];

pub fn configure(config: &mut web::ServiceConfig) {
    let [root, plan_page, kpi_page, vocabulary, stylesheet_path] = PATHS;
    config
        .route(root, web::get().to(index))
        .route(plan_page, web::get().to(plan))
        .route(kpi_page, web::get().to(kpi))
        .route(vocabulary, web::get().to(vocabulary_page))
        .route(stylesheet_path, web::get().to(stylesheet));
}

/// A page that failed: the status and problem as the API gives them, as a page a person reads.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl std::fmt::Debug for PageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(formatter)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(formatter)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        actix_web::ResponseError::status_code(&self.0)
    }

    /// The API's answer (its status and headers: `Allow`, `Retry-After`) with a page for a body.
    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let api = actix_web::ResponseError::error_response(&self.0);
        let mut response = HttpResponse::build(status);
        for (name, value) in api.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.append_header((name.clone(), value.clone()));
            }
        }
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match views::ErrorPage::new(status, &self.0).render() {
            Ok(body) => response.content_type(HTML).body(body),
            Err(_) => response.finish(),
        }
    }
}

const HTML: &str = "text/html; charset=utf-8";

fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page
        .render()
        .map_err(|error| ApiError::Internal(format!("page template: {error}")))?;
    Ok(HttpResponse::Ok().content_type(HTML).body(body))
}

/// The query of a page, without the empty fields a form sends for what was left blank. Unlike
/// the API, pages ignore parameters they do not know: shared links carry others (`utm_source`,
/// `fbclid`), and a reader must still see the page.
fn query_of(request: &HttpRequest) -> Result<QueryParams, ApiError> {
    let filled: Vec<&str> = request
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.ends_with('='))
        .collect();
    QueryParams::parse(&filled.join("&"))
}

/// A path segment that must be a record id.
fn id_in(request: &HttpRequest, name: &str) -> Result<i64, ApiError> {
    request
        .match_info()
        .get(name)
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::bad_request("path", format!("`{name}` must be a positive integer id")))
}

async fn index(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, PageError> {
    let mut params = query_of(&request)?;
    let page = params.id("page")?.unwrap_or(1);
    let listing = db.run(move |conn| views::IndexPage::load(conn, page)).await?;
    html(&listing)
}

async fn plan(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, PageError> {
    let plan_id = id_in(&request, "id")?;
    let mut params = query_of(&request)?;
    let moment = crate::api::reports::moment_of(&mut params)?;
    let report = db.run(move |conn| crate::report::load(conn, plan_id, moment)).await?;
    html(&views::ReportPage::new(report, &crate::api::base_url(&request))?)
}

async fn kpi(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, PageError> {
    let plan_id = id_in(&request, "id")?;
    let kpi_id = id_in(&request, "kpi")?;
    let page = db.run(move |conn| views::KpiPage::load(conn, plan_id, kpi_id)).await?;
    html(&page)
}

async fn vocabulary_page(request: HttpRequest) -> Result<HttpResponse, PageError> {
    query_of(&request)?.finish()?;
    // Built from the whole OpenAPI document, which does not change while the binary runs: once.
    static VOCABULARY: std::sync::OnceLock<views::VocabularyPage> = std::sync::OnceLock::new();
    html(VOCABULARY.get_or_init(views::VocabularyPage::new))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(STYLESHEET)
}
