//! What every response shares: validators and caching for reads, CORS for browsers.

use actix_cors::Cors;
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::api::records::{etag_of, matches};
use crate::api::API_BASE;
use crate::cache::{CachedResponse, ResponseCache};
use crate::config::Config;
use crate::db::write::DataVersion;
use crate::db::Database;
use crate::error::ApiError;

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

/// Whether a request is a read that carries the data version's validators and may be kept in the
/// response cache: the API, the pages, the catalogue, and the OpenAPI document with Swagger UI
/// (whose large assets are then compressed once rather than on every request).
fn is_cacheable_read(request: &ServiceRequest) -> bool {
    let path = request.path();
    matches!(*request.method(), Method::GET | Method::HEAD)
        && (path.starts_with(API_BASE)
            || crate::pages::serves(path)
            || crate::api::catalog::SERIALISATIONS.contains(&path)
            || path == crate::openapi::DOCUMENT_PATH
            || path.starts_with(crate::openapi::SWAGGER_UI_PATH))
}

/// Why `cached_reads` could not read the data version, for `conditional_get` to answer.
struct VersionUnavailable(ApiError);

/// Marks a response `cached_reads` may keep: a whole 200 answer to an anonymous read.
#[derive(Clone, Copy)]
struct Cacheable;

/// Anonymous reads answered from the response cache. This is the outermost layer, so a hit runs
/// no other middleware: it is the response exactly as it last left the service (compressed as the
/// client accepts, with its CORS and other headers), kept under the data version read before it
/// was built and served only while the database is still at that version. Any write on any
/// instance bumps the version, so a cached response is always what the database holds.
pub async fn cached_reads(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let keyed = request
        .app_data::<web::Data<ResponseCache>>()
        .filter(|cache| cache.is_enabled())
        .zip(request.app_data::<web::Data<Database>>())
        .filter(|_| is_cacheable_read(&request) && !request.headers().contains_key(header::AUTHORIZATION))
        .and_then(|(cache, database)| Some((cache.clone(), database.clone(), cache_key(&request)?)));
    let Some((cache, database, key)) = keyed else {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    };
    // A database that cannot say its version cannot answer the read either: `conditional_get`
    // answers that inside the other layers (CORS, the access log), without a second wait.
    let version = match database.data_version().await {
        Ok(version) => version,
        Err(error) => {
            request.extensions_mut().insert(VersionUnavailable(error));
            return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
        }
    };
    if let Some(hit) = cache.get(&key, version) {
        // A hit passes the request limits too; one refused goes on to `limits`, which answers it.
        let admitted = request
            .app_data::<web::Data<RequestLimits>>()
            .is_none_or(|limits| limits.admit(&request, true).is_ok());
        if admitted {
            let response = Conditions::of(&request).respond(&hit.headers, hit.body.clone(), version.changed_at);
            return Ok(request.into_response(response));
        }
    }
    request.extensions_mut().insert(version);
    let response = next.call(request).await?;
    if !response.response().extensions().contains::<Cacheable>() {
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("body"))?;
    cache.insert(
        key,
        CachedResponse {
            version,
            headers: head.headers().clone(),
            body: bytes.clone(),
        },
    );
    Ok(ServiceResponse::new(
        request,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// Every successful API read gets a strong `ETag` of its bytes and the data set's
/// `Last-Modified`; `If-None-Match` (or else `If-Modified-Since`) answers 304 without a body.
/// Both come from the response and the database's data version, so every instance sharing a
/// database agrees. Streamed bodies (CSV of whole collections, exports) pass untouched.
pub async fn conditional_get(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_cacheable_read(&request) {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    }
    let conditions = Conditions::of(&request);
    // The version `cached_reads` read for this request, or else read now: a database that cannot
    // say its version cannot answer the read either (503 now, not after a second wait).
    if let Some(VersionUnavailable(error)) = request.extensions_mut().remove::<VersionUnavailable>() {
        return Err(error.into());
    }
    // An authenticated read has no Last-Modified (below), so it needs no version.
    let known = request.extensions().get::<DataVersion>().copied();
    let data_version = match (known, request.app_data::<web::Data<Database>>()) {
        _ if conditions.authenticated => None,
        (Some(version), _) => Some(version),
        (None, Some(database)) => Some(database.data_version().await?),
        (None, None) => None,
    };
    let policy = request
        .app_data::<web::Data<CachePolicy>>()
        .map(|policy| *policy.get_ref());
    // Staff go back to a page right after recording a result: it revalidates (a cheap 304) rather
    // than being kept for max-age.
    let revalidate = crate::pages::is_page(request.path());
    let asked_for_head = request.method() == Method::HEAD;
    let response = next.call(request).await?;
    let streamed = matches!(response.response().body().size(), actix_web::body::BodySize::Stream);
    if streamed && asked_for_head {
        // Its headers are all HEAD sends: the stream (an export, the change stream, which holds a
        // place among the instance's streams) is dropped unread rather than produced for nobody.
        return Ok(response.map_body(|_, _| BoxBody::new(())));
    }
    if response.status() != StatusCode::OK || streamed {
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
    let headers = head.headers_mut();
    // JSON or CSV depends on Accept; caches must keep them apart.
    headers.append(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    // The data set's time says when a public read last changed; an authenticated read (webhook
    // subscriptions, whose deliveries change without a new data version) is judged by its ETag alone.
    let changed_at = data_version.map(|version| version.changed_at);
    if let Some(changed_at) = changed_at {
        if let Ok(value) = HeaderValue::from_str(&http_date(changed_at)) {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        let cache_control = match (conditions.authenticated, policy) {
            (true, _) => "no-store".to_string(),
            (false, _) if revalidate => "public, no-cache".to_string(),
            (false, Some(policy)) => format!("public, max-age={}", policy.max_age_secs),
            (false, None) => "no-cache".to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&cache_control) {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    let mut response = conditions.respond(head.headers(), bytes, changed_at);
    if response.status() == StatusCode::OK && !conditions.authenticated {
        response.extensions_mut().insert(Cacheable);
    }
    Ok(ServiceResponse::new(request, response))
}

/// The request headers a response depends on besides its target: the format asked for, the host
/// asked (the pages' structured data gives absolute addresses), the encodings accepted and the
/// origin (CORS).
const KEYED_HEADERS: [header::HeaderName; 4] = [header::ACCEPT, header::HOST, header::ACCEPT_ENCODING, header::ORIGIN];

/// What makes two reads the same response, or None for a read the key cannot tell apart from
/// another: a keyed header sent twice or not UTF-8 (`Compress` reads every `Accept-Encoding`), or
/// a CORS preflight's header on a plain read (`Vary` names them).
fn cache_key(request: &ServiceRequest) -> Option<String> {
    let headers = request.headers();
    if headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        || headers.contains_key(header::ACCESS_CONTROL_REQUEST_HEADERS)
    {
        return None;
    }
    let target = request.uri().path_and_query().map_or("", |target| target.as_str());
    let mut key = String::with_capacity(target.len() + 64);
    key.push_str(target);
    for name in KEYED_HEADERS {
        let mut values = headers.get_all(&name);
        let value = values
            .next()
            .map_or(Ok(""), |value| std::str::from_utf8(value.as_bytes()));
        if values.next().is_some() {
            return None;
        }
        key.push('\n');
        key.push_str(value.ok()?);
    }
    Some(key)
}

/// A read's preconditions, and whether it carries a token.
struct Conditions {
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    authenticated: bool,
}

impl Conditions {
    fn of(request: &ServiceRequest) -> Self {
        let header_text = |name| {
            request
                .headers()
                .get(name)
                .and_then(|value: &HeaderValue| value.to_str().ok())
                .map(str::to_string)
        };
        Conditions {
            if_none_match: header_text(header::IF_NONE_MATCH),
            if_modified_since: header_text(header::IF_MODIFIED_SINCE),
            authenticated: request.headers().contains_key(header::AUTHORIZATION),
        }
    }

    /// 304 with the headers alone when the client's copy is current, else 200 with the body.
    fn respond(
        &self,
        headers: &header::HeaderMap,
        body: Bytes,
        changed_at: impl Into<Option<NaiveDateTime>>,
    ) -> HttpResponse {
        let etag = headers
            .get(header::ETAG)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let not_modified = match (&self.if_none_match, &self.if_modified_since, changed_at.into()) {
            (Some(condition), _, _) => matches(condition, etag),
            (None, Some(since), Some(changed_at)) => parse_http_date(since)
                .is_some_and(|since| changed_at.and_utc().timestamp() <= since.and_utc().timestamp()),
            _ => false,
        };
        let mut builder = HttpResponse::build(if not_modified {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::OK
        });
        for (name, value) in headers.iter() {
            builder.append_header((name.clone(), value.clone()));
        }
        if not_modified {
            builder.finish()
        } else {
            builder.body(body)
        }
    }
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
            // A preflight (OPTIONS) is judged by the method it asks about; any other request by its own.
            let asked = (head.method == Method::OPTIONS)
                .then(|| head.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD))
                .flatten();
            let method = asked
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

/// The largest request target (path and query string) accepted.
pub const MAX_URI_BYTES: usize = 4096;
/// The largest total size of the request headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

type ClientLimiter = governor::DefaultKeyedRateLimiter<IpAddr>;

/// Limits checked before a request reaches a handler: the size of its target and headers, its
/// client's rate, the time its body may take to arrive, and the time a read may take.
pub struct RequestLimits {
    writes: Option<ClientLimiter>,
    reads: Option<ClientLimiter>,
    client_timeout: Duration,
    request_timeout: Duration,
    max_body_bytes: usize,
    max_import_bytes: usize,
}

/// Paths whose bodies are whole files (a plan, a results sheet), under `max_import_bytes`.
pub fn is_import(path: &str) -> bool {
    path.ends_with("/import")
}

impl RequestLimits {
    pub fn from_config(config: &Config) -> Self {
        RequestLimits {
            writes: client_limiter(config.write_rate_limit),
            reads: client_limiter(config.read_rate_limit),
            client_timeout: Duration::from_secs(config.client_timeout_secs),
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
            max_import_bytes: usize::try_from(config.max_import_bytes).unwrap_or(usize::MAX),
        }
    }

    /// The largest body a request to `path` may send.
    pub fn body_limit(&self, path: &str) -> usize {
        if is_import(path) {
            self.max_import_bytes
        } else {
            self.max_body_bytes
        }
    }

    /// Whether a request passes the size and rate limits.
    pub fn admit(&self, request: &ServiceRequest, is_read: bool) -> Result<(), ApiError> {
        Self::check_size(request).and_then(|()| self.check_rate(request, is_read))
    }

    fn check_size(request: &ServiceRequest) -> Result<(), ApiError> {
        let target = request.path().len() + request.query_string().len();
        if target > MAX_URI_BYTES {
            return Err(ApiError::UriTooLong(MAX_URI_BYTES));
        }
        let headers: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if headers > MAX_HEADER_BYTES {
            return Err(ApiError::HeadersTooLarge(MAX_HEADER_BYTES));
        }
        Ok(())
    }

    fn check_rate(&self, request: &ServiceRequest, is_read: bool) -> Result<(), ApiError> {
        let limiter = if is_read { &self.reads } else { &self.writes };
        let (Some(limiter), Some(client)) = (limiter, request.peer_addr()) else {
            return Ok(());
        };
        // Forget idle clients now and then, so the table holds only the active ones.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&client.ip()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            ApiError::TooManyRequests(wait.as_secs() + 1)
        })
    }

    /// Reads a write's body within the client timeout (up to one byte past the limit, so the
    /// handler still answers 413), and hands it on: a client trickling a body cannot hold a request.
    async fn buffer_body(&self, request: &mut ServiceRequest) -> Result<(), ApiError> {
        let limit = self.body_limit(request.path()).saturating_add(1);
        let mut payload = request.take_payload();
        let read = async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                // A body cut short (the client went away) is never handed on as if it were whole.
                let chunk =
                    chunk.map_err(|error| ApiError::bad_field("body", format!("did not arrive whole: {error}")))?;
                body.extend_from_slice(&chunk);
                if body.len() >= limit {
                    body.truncate(limit);
                    break;
                }
            }
            Ok::<_, ApiError>(body.freeze())
        };
        let body = actix_web::rt::time::timeout(self.client_timeout, read)
            .await
            .map_err(|_| ApiError::BodyTimedOut(self.client_timeout.as_secs()))??;
        request.set_payload(actix_web::dev::Payload::from(body));
        Ok(())
    }
}

fn client_limiter(per_second: u32) -> Option<ClientLimiter> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(per_second.saturating_mul(2))?;
    Some(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    ))
}

/// Applies `RequestLimits`; a request over a limit gets its problem response here.
pub async fn limits(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = request.app_data::<web::Data<RequestLimits>>().cloned() else {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    };
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let admitted = match limits.admit(&request, is_read) {
        Ok(()) if is_read => Ok(()),
        Ok(()) => limits.buffer_body(&mut request).await,
        Err(error) => Err(error),
    };
    if let Err(error) = admitted {
        return Ok(request.error_response(error));
    }
    if !is_read {
        // A write runs to its end: cutting it short could not undo a commit already made.
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    }
    // An error, not a response built here: the request went to the handler, and a clone kept
    // back would stop actix from routing it. The framework renders the error as its problem.
    match actix_web::rt::time::timeout(limits.request_timeout, next.call(request)).await {
        Ok(response) => response.map(ServiceResponse::map_into_boxed_body),
        Err(_) => Err(ApiError::TimedOut(limits.request_timeout.as_secs()).into()),
    }
}
