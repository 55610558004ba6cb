//! What every response shares: validators and caching for reads, CORS for browsers.

use actix_cors::Cors;
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::api::records::{etag_of, matches};
use crate::api::API_BASE;
use crate::config::Config;
use crate::db::{write, Database};

/// How long public caches may keep a read.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub max_age_secs: u64,
}

fn http_date(time: NaiveDateTime) -> String {
    DateTime::<Utc>::from_naive_utc_and_offset(time, Utc)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(text: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc2822(text).ok().map(|time| time.naive_utc())
}

/// Every successful API read gets a strong `ETag` of its bytes and the data set's
/// `Last-Modified`; `If-None-Match` (or else `If-Modified-Since`) answers 304 without a body.
/// Both come from the response and the database, never from a per-process cache, so every
/// instance sharing a database agrees. Streamed bodies (CSV of whole collections) pass untouched.
pub async fn conditional_get(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD) && request.path().starts_with(API_BASE);
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_string)
    };
    let if_none_match = header_text(header::IF_NONE_MATCH);
    let if_modified_since = header_text(header::IF_MODIFIED_SINCE);
    let authenticated = request.headers().contains_key(header::AUTHORIZATION);
    let database = request.app_data::<web::Data<Database>>().cloned();
    let policy = request
        .app_data::<web::Data<CachePolicy>>()
        .map(|policy| *policy.get_ref());
    let response = next.call(request).await?;
    let streamed = matches!(response.response().body().size(), actix_web::body::BodySize::Stream);
    if !is_read || response.status() != StatusCode::OK || streamed {
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (mut head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("body"))?;
    let etag = match head.headers().get(header::ETAG).and_then(|value| value.to_str().ok()) {
        Some(etag) => etag.to_string(),
        None => etag_of(&bytes),
    };
    let changed_at = match database {
        Some(database) => database.run(write::last_change).await.ok(),
        None => None,
    };
    let not_modified = match (&if_none_match, &if_modified_since, changed_at) {
        (Some(condition), _, _) => matches(condition, &etag),
        (None, Some(since), Some(changed_at)) => {
            parse_http_date(since).is_some_and(|since| changed_at.and_utc().timestamp() <= since.and_utc().timestamp())
        }
        _ => false,
    };
    let headers = head.headers_mut();
    // JSON or CSV depends on Accept; caches must keep them apart.
    headers.append(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    if let Some(changed_at) = changed_at {
        if let Ok(value) = HeaderValue::from_str(&http_date(changed_at)) {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        let cache_control = match (authenticated, policy) {
            (true, _) => "no-store".to_string(),
            (false, Some(policy)) => format!("public, max-age={}", policy.max_age_secs),
            (false, None) => "no-cache".to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&cache_control) {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    let mut builder = HttpResponse::build(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    for (name, value) in head.headers().iter() {
        builder.insert_header((name.clone(), value.clone()));
    }
    let response = if not_modified {
        builder.finish()
    } else {
        builder.body(bytes)
    };
    Ok(ServiceResponse::new(request, response))
}

/// HEAD is answered as GET: the HTTP codec remembers the request was HEAD and sends the headers
/// alone, so every readable resource answers HEAD with the same ETag, length and caching headers.
pub async fn head_as_get(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}

fn origins(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads from the configured read origins (any by default); writes only from the write origins.
/// A preflight is judged by the method it asks for.
pub fn cors(config: &Config) -> Cors {
    let read = origins(&config.cors_read_origins);
    let write = origins(&config.cors_write_origins);
    let any_reader = read.iter().any(|origin| origin == "*");
    Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let method = head
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| head.method.to_string());
            let origin = origin.to_str().unwrap_or("");
            if matches!(method.as_str(), "GET" | "HEAD") {
                any_reader || read.iter().any(|allowed| allowed == origin)
            } else {
                write.iter().any(|allowed| allowed == origin)
            }
        })
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::ACCEPT,
        ])
        .expose_headers([
            header::ETAG,
            header::LAST_MODIFIED,
            header::LINK,
            header::LOCATION,
            header::CONTENT_DISPOSITION,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
        ])
        .max_age(3600)
}
