//! `/api/v1/context.jsonld`: the JSON-LD context of the records (see `crate::linked_data`).

use actix_web::{get, HttpRequest, HttpResponse};

use super::QueryParams;
use crate::error::{ApiError, ListErrors};
use crate::linked_data;

/// The JSON-LD context that records and collections name when asked for `application/ld+json`:
/// fields to schema.org and DCMI terms where they fit, the others to the vocabulary at `/vocab`.
#[utoipa::path(
    operation_id = "getJsonLdContext",
    tag = "catalog",
    responses(
        (status = 200, description = "The context document", content_type = "application/ld+json", body = Object),
        ListErrors,
    )
)]
#[get("/context.jsonld")]
pub async fn context(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(request.query_string())?.finish()?;
    Ok(HttpResponse::Ok()
        .content_type(linked_data::MEDIA_TYPE)
        .body(linked_data::context(&super::base_url(&request)).to_string()))
}
