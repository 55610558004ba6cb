//! `/catalog.ttl` and `/catalog.jsonld`: the DCAT catalogue of every plan, for data portals
//! (CKAN's DCAT harvester chooses the parser by the Content-Type).

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};

use super::QueryParams;
use crate::catalog::{self, Entry};
use crate::db::{plans, Database};
use crate::error::{ApiError, ListErrors};

/// The catalogue's documents: read like the API (ETags, 304s, the response cache).
pub const SERIALISATIONS: [&str; 2] = ["/catalog.ttl", "/catalog.jsonld"];

async fn graph(db: &Database, request: &HttpRequest) -> Result<catalog::Triples, ApiError> {
    QueryParams::parse(request.query_string())?.finish()?;
    let base = super::base_url(request);
    let entries = db
        .run(|conn| {
            Ok(plans::with_times(conn)?
                .into_iter()
                .map(|(plan, created, modified)| Entry {
                    plan: plan.into(),
                    created,
                    modified,
                })
                .collect::<Vec<_>>())
        })
        .await?;
    catalog::graph(&entries, &base)
}

/// The DCAT catalogue as Turtle.
#[utoipa::path(
    operation_id = "getCatalogTurtle",
    tag = "catalog",
    responses(
        (status = 200, description = "A `dcat:Catalog` with one `dcat:Dataset` per plan and a `dcat:Distribution` per form: the JSON export, the zip, the Excel report and each collection's CSV", content_type = "text/turtle", body = String),
        ListErrors,
    )
)]
#[get("/catalog.ttl")]
pub async fn turtle(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let graph = graph(&db, &request).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/turtle; charset=utf-8")
        .body(catalog::turtle(&graph)?))
}

/// The same catalogue as JSON-LD, its context inline.
#[utoipa::path(
    operation_id = "getCatalogJsonLd",
    tag = "catalog",
    responses(
        (status = 200, description = "The graph of `/catalog.ttl` as JSON-LD (prefixes in an inline `@context`; nothing to fetch)", content_type = "application/ld+json", body = Object),
        ListErrors,
    )
)]
#[get("/catalog.jsonld")]
pub async fn json_ld(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let graph = graph(&db, &request).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/ld+json")
        .body(catalog::json_ld(&graph)?))
}

/// The catalogue's own IRI: to the Turtle or the JSON-LD, as the client's `Accept` prefers.
#[utoipa::path(
    operation_id = "getCatalog",
    tag = "catalog",
    responses(
        (status = 303, description = "See `/catalog.jsonld` when `Accept` names `application/ld+json` before `text/turtle`, else `/catalog.ttl`", headers(("Location" = String, description = "The chosen serialisation"))),
        ListErrors,
    )
)]
#[get("/catalog")]
pub async fn negotiate(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(request.query_string())?.finish()?;
    let [turtle_path, json_ld_path] = SERIALISATIONS;
    let target = match crate::linked_data::preferred(&request, &["text/turtle", crate::linked_data::MEDIA_TYPE]) {
        Some(crate::linked_data::MEDIA_TYPE) => json_ld_path,
        _ => turtle_path,
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}{target}", super::base_url(&request))))
        .insert_header((header::VARY, "Accept"))
        .finish())
}
