//! The one error type, and the one place where errors become HTTP responses (RFC 9457 problem+json).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} {id} does not exist")]
    NotFound { resource: &'static str, id: String },
    #[error("{detail}")]
    BadRequest { detail: String, errors: Vec<FieldError> },
    /// The input fits the document, but a rule of the records refuses it.
    #[error("{detail}")]
    Unprocessable { detail: String, errors: Vec<FieldError> },
    #[error("no route for {path}")]
    NoRoute { path: String },
    #[error("{method} is not allowed here; allowed: {allowed}")]
    MethodNotAllowed { method: String, allowed: String },
    #[error("a valid bearer token is required")]
    Unauthorized { invalid_token: bool },
    /// A token that is refused for a reason the client can act on (named in the detail).
    #[error("the bearer token is not accepted: {0}")]
    InvalidToken(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("writes are disabled: this instance has no token signing key configured")]
    WritesDisabled,
    #[error("this request needs an If-Match header with the record's current ETag")]
    PreconditionRequired,
    #[error("the record has changed since the ETag given in If-Match; fetch it again")]
    PreconditionFailed,
    #[error("{0}")]
    Conflict(String),
    /// Records changed since the client read them (rows of a sheet downloaded earlier), each named.
    #[error("{detail}")]
    Stale { detail: String, errors: Vec<FieldError> },
    /// A token limited to a department sent records of others, each named.
    #[error("{detail}")]
    ForbiddenFields { detail: String, errors: Vec<FieldError> },
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// A body of a kind the endpoint does not take, with the kinds it does.
    #[error("the body must be {0}")]
    UnsupportedMediaTypeOf(&'static str),
    #[error("the body is larger than {0} bytes")]
    ContentTooLarge(usize),
    #[error("the request target is longer than {0} bytes")]
    UriTooLong(usize),
    #[error("the request headers are larger than {0} bytes in all")]
    HeadersTooLarge(usize),
    #[error("too many requests from this client; retry in {0} s")]
    TooManyRequests(u64),
    #[error("the request was not answered within {0} s")]
    TimedOut(u64),
    #[error("the request body did not arrive within {0} s")]
    BodyTimedOut(u64),
    #[error("the database is unavailable")]
    Unavailable(String),
    /// This instance holds as many long-lived responses (change streams) as it may.
    #[error("{0}")]
    Busy(String),
    /// The identity provider's keys cannot be used now (not loaded yet, or too long unrefreshed).
    #[error("{0}; writes resume once they load")]
    KeysUnavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// One failing input: the parameter or field, and what is wrong with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Name of the query parameter, path segment or body field.
    #[schema(example = "limit")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be an integer between 1 and 500")]
    pub message: String,
}

/// An RFC 9457 problem document: every error response of this API has this body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Not Found",
    "status": 404,
    "detail": "goal 99 does not exist"
}))]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// The failing inputs, for 400 and 422 responses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError {
            field: field.into(),
            message: message.into(),
        };
        ApiError::BadRequest {
            detail: format!("invalid parameter `{}`: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// Several failing fields at once, each named in the detail and in `errors`.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let names = errors
            .iter()
            .map(|error| format!("`{}`", error.field))
            .collect::<Vec<_>>();
        ApiError::BadRequest {
            detail: format!("invalid field(s): {}", names.join(", ")),
            errors,
        }
    }

    /// Several fields that rules of the records refuse (a 422), each named in the detail.
    pub fn refusals(errors: Vec<FieldError>) -> Self {
        let names: Vec<String> = errors.iter().map(|error| format!("`{}`", error.field)).collect();
        ApiError::Unprocessable {
            detail: format!("invalid field(s): {}", names.join(", ")),
            errors,
        }
    }

    /// One field that a rule refuses (a 422): what an opaque body (a sheet, a zip) holds is a
    /// rule's matter, since the document cannot describe it.
    pub fn refused_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::refusals(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// The same failure as a 422: for the contents of an opaque body, which the document does not
    /// describe field by field.
    pub fn as_refusal(self) -> Self {
        match self {
            ApiError::BadRequest { errors, .. } => ApiError::refusals(errors),
            other => other,
        }
    }

    /// A body field that does not fit: named in the detail and in `errors`.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError {
            field: field.into(),
            message: message.into(),
        };
        ApiError::BadRequest {
            detail: format!("invalid field `{}`: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// The same failure with its fields named for another place: `rename` maps each field's name
    /// (a form's `target.value` as the revision's `value`, an imported record's as a JSON Pointer).
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> Self {
        let rename_all = |errors: Vec<FieldError>| -> Vec<FieldError> {
            errors
                .into_iter()
                .map(|error| FieldError {
                    field: rename(&error.field),
                    message: error.message,
                })
                .collect()
        };
        match self {
            ApiError::BadRequest { errors, .. } => ApiError::fields(rename_all(errors)),
            ApiError::Unprocessable { errors, .. } => ApiError::refusals(rename_all(errors)),
            other => other,
        }
    }

    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound {
            resource,
            id: id.to_string(),
        }
    }
}

/// A problem response for any status: also used for errors raised outside our handlers.
pub fn problem_response(status: StatusCode, detail: String, errors: Vec<FieldError>) -> HttpResponse {
    let problem = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        errors,
    };
    HttpResponse::build(status).content_type(PROBLEM_JSON).json(problem)
}

impl ApiError {
    /// The problem's detail and failing fields, as a client may see them: causes of 5xx never
    /// reach the client (`error_response` logs them).
    pub fn problem_parts(&self) -> (String, Vec<FieldError>) {
        let detail = match self {
            ApiError::Unavailable(_) => "the database is unavailable; try again shortly".to_string(),
            ApiError::Internal(_) => "an internal error occurred".to_string(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::BadRequest { errors, .. }
            | ApiError::Unprocessable { errors, .. }
            | ApiError::Stale { errors, .. }
            | ApiError::ForbiddenFields { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        (detail, errors)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized { .. } | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::ForbiddenFields { .. } => StatusCode::FORBIDDEN,
            ApiError::WritesDisabled | ApiError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::Conflict(_) | ApiError::Stale { .. } => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType | ApiError::UnsupportedMediaTypeOf(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ContentTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyTimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) | ApiError::TimedOut(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Unavailable(cause) => log::warn!("database unavailable: {cause}"),
            ApiError::Internal(cause) => log::error!("internal error: {cause}"),
            _ => {}
        }
        let (detail, errors) = self.problem_parts();
        let mut response = problem_response(status, detail, errors);
        match self {
            ApiError::MethodNotAllowed { allowed, .. } => {
                if let Ok(value) = header::HeaderValue::from_str(allowed) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            ApiError::Unavailable(_) | ApiError::TimedOut(_) | ApiError::KeysUnavailable(_) | ApiError::Busy(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            }
            ApiError::TooManyRequests(seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(*seconds));
            }
            // RFC 6750: no error code when no token was sent.
            ApiError::InvalidToken(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(r#"Bearer realm="strategy-api", error="invalid_token""#),
                );
            }
            ApiError::Unauthorized { invalid_token } => {
                let challenge = if *invalid_token {
                    r#"Bearer realm="strategy-api", error="invalid_token""#
                } else {
                    r#"Bearer realm="strategy-api""#
                };
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static(challenge));
            }
            _ => {}
        }
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => ApiError::Unavailable(info.message().to_string()),
            // A read-only file, a full disk or a lock held past the busy timeout: the database
            // cannot take the write now, which is no fault of the request.
            Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, info) => {
                ApiError::Unavailable(info.message().to_string())
            }
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if ["readonly", "disk is full", "database is locked", "disk i/o error"]
                    .iter()
                    .any(|symptom| info.message().to_ascii_lowercase().contains(symptom)) =>
            {
                ApiError::Unavailable(info.message().to_string())
            }
            // Validation checks uniqueness and references first; this is a concurrent writer's race.
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ForeignKeyViolation, info) => {
                ApiError::Conflict(format!("the change conflicts with another record: {}", info.message()))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        ApiError::Unavailable(error.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

/// The problem responses of the document, each described once and cited by reference from every
/// operation that can answer it, so that client generators name one model per status.
pub mod responses {
    use super::Problem;

    macro_rules! problem_responses {
        ($($name:ident = $description:literal,)*) => {
            $(
                #[derive(utoipa::ToResponse)]
                #[response(description = $description, content_type = "application/problem+json")]
                pub struct $name(#[allow(dead_code)] Problem);
            )*
            /// Every problem response, for the document's components.
            pub fn all() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>)> {
                use utoipa::ToResponse;
                vec![$({
                    let (name, response) = $name::response();
                    (name.to_string(), response)
                }),*]
            }
        };
    }

    problem_responses! {
        BadRequest = "A query parameter, path segment or body field is malformed, out of the documented bounds or unknown; `errors` names each one.",
        Unauthorized = "No token, or an invalid, expired or revoked one; `WWW-Authenticate` says which.",
        Forbidden = "The token lacks the operation's scope, or its department does not reach the record.",
        NotFound = "No record has this id.",
        RequestTimeout = "The request body did not arrive within the configured time.",
        Conflict = "The write conflicts with the records: another writer took the same code or name at the same moment, or (for a delete) records still depend on this one; the detail says which.",
        PreconditionFailed = "The record changed since the ETag given in `If-Match`: fetch it again.",
        ContentTooLarge = "The body is larger than the configured maximum.",
        UriTooLong = "The request target is longer than the service accepts.",
        UnsupportedMediaType = "The body is not `application/json` (or `application/merge-patch+json` for a merge patch).",
        UnprocessableContent = "The body fits the document, but a rule of the records refuses it (a reference to a record that does not exist, a code or name another record of the plan has, a year outside the KPI's period, a target year before the baseline year); `errors` names each field.",
        PreconditionRequired = "`If-Match` with the record's current ETag is required.",
        TooManyRequests = "Too many requests from this client (writes, and reads when so configured); retry after `Retry-After` seconds.",
        RequestHeaderFieldsTooLarge = "The request headers are larger than the service accepts.",
        ServiceUnavailable = "The database is unavailable or the request took too long (retry after `Retry-After` seconds), this instance holds as many change streams as it may, or, for a write, this instance has no token key configured or cannot use its identity provider's keys now.",
    }
}

/// Error responses of every collection endpoint.
#[derive(utoipa::IntoResponses)]
pub enum ListErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] responses::BadRequest),
}

/// Error responses of every single-record endpoint.
#[derive(utoipa::IntoResponses)]
pub enum ItemErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] responses::BadRequest),
    #[response(status = 404)]
    NotFound(#[ref_response] responses::NotFound),
}

/// Error responses of every create.
#[derive(utoipa::IntoResponses)]
pub enum CreateErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] responses::BadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] responses::Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] responses::Forbidden),
    #[response(status = 409)]
    Conflict(#[ref_response] responses::Conflict),
    #[response(status = 422)]
    UnprocessableContent(#[ref_response] responses::UnprocessableContent),
}

/// Error responses of every merge patch.
#[derive(utoipa::IntoResponses)]
pub enum PatchErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] responses::BadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] responses::Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] responses::Forbidden),
    #[response(status = 404)]
    NotFound(#[ref_response] responses::NotFound),
    #[response(status = 409)]
    Conflict(#[ref_response] responses::Conflict),
    #[response(status = 412)]
    PreconditionFailed(#[ref_response] responses::PreconditionFailed),
    #[response(status = 422)]
    UnprocessableContent(#[ref_response] responses::UnprocessableContent),
    #[response(status = 428)]
    PreconditionRequired(#[ref_response] responses::PreconditionRequired),
}

/// Error responses of every delete.
#[derive(utoipa::IntoResponses)]
pub enum DeleteErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] responses::BadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] responses::Unauthorized),
    #[response(status = 403)]
    Forbidden(#[ref_response] responses::Forbidden),
    #[response(status = 404)]
    NotFound(#[ref_response] responses::NotFound),
    #[response(status = 409)]
    Conflict(#[ref_response] responses::Conflict),
    #[response(status = 412)]
    PreconditionFailed(#[ref_response] responses::PreconditionFailed),
    #[response(status = 428)]
    PreconditionRequired(#[ref_response] responses::PreconditionRequired),
}
