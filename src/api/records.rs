//! The one implementation of reading one record and of create, merge-patch and delete, shared by
//! every resource: authentication, ETags and If-Match, validation, one transaction with its audit record.

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::auth::{Authenticator, Principal, Scope};
use crate::db::write::{self, AuditEntry, Operation};
use crate::db::{self, Database, DbConnection};
use crate::error::{ApiError, FieldError};
use crate::linked_data;

/// A resource that can be read by id and written.
pub trait Record: 'static {
    /// Singular name, as in audit records and error messages: `goal`.
    const RESOURCE: &'static str;
    /// Collection path, for `Location`: `/api/v1/goals`.
    const PATH: &'static str;
    /// The scope a token needs to write it (admin can do everything).
    const SCOPE: Scope;
    /// The representation `GET /{id}` returns.
    type View: Serialize + Send + 'static;
    /// The editable fields: the body of `POST`, and what a merge patch applies to.
    type Input: Serialize + DeserializeOwned + Default + ToSchema + Send + 'static;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Self::View, ApiError>;
    fn input_of(view: &Self::View) -> Self::Input;
    /// Every rule for the fields and references; `id` is the record being updated, if any.
    fn validate(conn: &mut DbConnection, input: &Self::Input, id: Option<i64>) -> Result<(), ApiError>;
    fn insert(conn: &mut DbConnection, input: &Self::Input) -> Result<i64, ApiError>;
    fn update(conn: &mut DbConnection, id: i64, input: &Self::Input) -> Result<(), ApiError>;
    /// What still refers to the record (a delete then answers 409 naming them).
    fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError>;
    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError>;
    /// The plan the record belongs to: a token limited to plans is checked on it before and after a
    /// change. None for what belongs to no plan (a webhook subscription), which such a token cannot write.
    fn plan_of(view: &Self::View) -> Option<i64>;

    /// Record-level limits of a token beyond its scope (a department's staff and their projects).
    fn authorize(
        _principal: &Principal,
        _conn: &mut DbConnection,
        _before: Option<&Self::View>,
        _after: Option<&Self::Input>,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A strong ETag of the exact representation bytes, which include the row's `version`.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("\"{hex}\"")
}

/// The ETag of a record's JSON-LD: its JSON's, marked, so that either representation's tag,
/// sent back in `If-Match`, names the same state of the record.
pub fn linked_etag_of(json_body: &[u8]) -> String {
    let etag = etag_of(json_body);
    format!("{}-ld\"", etag.trim_end_matches('"'))
}

/// Whether `If-Match` names the record's current state, by the tag of its JSON or its JSON-LD.
fn matches_record(condition: &str, json_body: &[u8]) -> bool {
    matches(condition, &etag_of(json_body)) || matches(condition, &linked_etag_of(json_body))
}

/// Whether an `If-Match` / `If-None-Match` value names this tag (strong comparison; `*` matches).
pub fn matches(condition: &str, etag: &str) -> bool {
    condition.split(',').map(str::trim).any(|tag| tag == "*" || tag == etag)
}

/// `GET /{id}`: the record with its ETag (the conditional-GET middleware answers 304 for it).
pub async fn get_one<R: Record>(db: &Database, request: &HttpRequest, id: i64) -> Result<HttpResponse, ApiError> {
    let view = db.run(move |conn| R::load(conn, id)).await?;
    let base = super::base_url(request);
    let collection = R::PATH.trim_start_matches(super::API_BASE).trim_start_matches('/');
    let json = to_json(&view)?;
    let (body, etag, media_type) = match linked_data::class_of(collection).filter(|_| linked_data::wanted(request)) {
        Some(class) => {
            let value = serde_json::to_value(&view).map_err(|error| ApiError::Internal(error.to_string()))?;
            (
                to_json(&linked_data::record(value, &base, collection, class))?,
                linked_etag_of(&json),
                linked_data::MEDIA_TYPE,
            )
        }
        None => {
            let etag = etag_of(&json);
            (json, etag, "application/json")
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::LINK,
            format!("<{}>; rel=\"canonical\"", linked_data::iri(&base, collection, id)),
        ))
        .content_type(media_type)
        .body(body))
}

/// The authenticated caller of a write, with its preconditions.
pub struct Writer {
    principal: Principal,
    method: String,
    if_match: Option<String>,
}

impl FromRequest for Writer {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    /// Authenticates, then refuses a revoked token before anything else about the request is looked at.
    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let header_text = |name| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let authorization = header_text(header::AUTHORIZATION);
        let if_match = header_text(header::IF_MATCH);
        let method = request.method().to_string();
        let authenticator = request.app_data::<web::Data<Authenticator>>().cloned();
        let database = request.app_data::<web::Data<Database>>().cloned();
        Box::pin(async move {
            let authenticator =
                authenticator.ok_or_else(|| ApiError::Internal("no authenticator configured".into()))?;
            let principal = authenticator.authenticate(authorization.as_deref()).await?;
            let database = database.ok_or_else(|| ApiError::Internal("no database configured".into()))?;
            let (issuer, jti) = (principal.issuer.clone(), principal.jti.clone());
            if database.run(move |conn| write::is_revoked(conn, &issuer, &jti)).await? {
                return Err(ApiError::Unauthorized { invalid_token: true });
            }
            Ok(Writer {
                principal,
                method,
                if_match,
            })
        })
    }
}

impl Writer {
    pub(super) fn precondition(&self) -> Result<String, ApiError> {
        self.if_match.clone().ok_or(ApiError::PreconditionRequired)
    }

    /// The `If-Match` header, if any.
    pub(super) fn if_match(&self) -> Option<&str> {
        self.if_match.as_deref()
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        self.principal.require(scope)
    }

    /// Refuses a token limited to some plans: for what spans every plan (the audit record) or
    /// belongs to none (a webhook subscription), named in `what`.
    pub fn require_every_plan(&self, what: &str) -> Result<(), ApiError> {
        if self.principal.plans.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token is limited to some plans, and {what} spans every plan"
            )))
        }
    }

    /// The token's subject.
    pub fn subject(&self) -> &str {
        &self.principal.subject
    }

    /// The department a token is limited to, if any (an admin's token reaches everything).
    pub fn department(&self) -> Option<i64> {
        self.principal.limited_to_department()
    }

    /// Refuses a KPI (by its initiative) outside the department the token is limited to.
    pub fn check_kpi_reach(&self, conn: &mut DbConnection, initiative_id: i64) -> Result<(), ApiError> {
        self.principal.check_kpi_reach(conn, initiative_id)
    }

    /// Who the audit records of an import name.
    pub fn actor(&self) -> crate::transfer::load::Actor<'_> {
        crate::transfer::load::Actor {
            subject: &self.principal.subject,
            jti: &self.principal.jti,
            method: &self.method,
        }
    }

    /// Refuses a record of a plan outside the token's plan limit.
    pub fn check_plan(&self, conn: &mut DbConnection, plan_id: i64) -> Result<(), ApiError> {
        self.principal.check_plan(conn, plan_id)
    }

    /// Refuses a record of a plan outside the token's plan limit; a record of no plan is refused to
    /// any token limited to plans.
    fn check_record_plan<R: Record>(&self, conn: &mut DbConnection, plan_id: Option<i64>) -> Result<(), ApiError> {
        match plan_id {
            Some(plan_id) => self.check_plan(conn, plan_id),
            None => self.require_every_plan(&format!("a {}", R::RESOURCE)),
        }
    }

    /// The same for a plan an import is about to create, known by its code.
    pub fn check_plan_code(&self, code: &str) -> Result<(), ApiError> {
        self.principal.check_plan_named(None, code)
    }
}

/// A JSON body, as `application/json` (or `application/merge-patch+json` for PATCH).
pub(super) fn json_body(request: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" && essence != "application/merge-patch+json" {
        return Err(ApiError::UnsupportedMediaType);
    }
    if nesting_depth(body) > MAX_NESTING {
        return Err(ApiError::bad_field(
            "body",
            format!("nests arrays and objects deeper than {MAX_NESTING} levels"),
        ));
    }
    serde_json::from_slice(body).map_err(|error| ApiError::bad_field("body", format!("is not valid JSON: {error}")))
}

/// No record nests deeper than a few levels; a body that does is refused before it is parsed.
const MAX_NESTING: usize = 16;

/// The deepest nesting of `[` and `{` in a JSON text, outside strings.
pub(crate) fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A body read against its form: every unknown, missing or mistyped field is named, and the rest is
/// kept (defaults standing in for the failing fields) so that the form's own rules can name theirs too.
pub(super) struct Parsed<T> {
    pub input: T,
    pub errors: Vec<FieldError>,
    /// Top-level fields whose defaults stand in for what was sent (or missing).
    stand_ins: Vec<String>,
}

impl<T> Parsed<T> {
    /// Adds the rules' failures (except on fields that already failed to parse) and fails if any.
    pub fn finish(self, rules: Result<(), ApiError>) -> Result<T, ApiError> {
        let Parsed {
            input,
            mut errors,
            stand_ins,
        } = self;
        let rule_errors = match rules {
            Ok(()) => Vec::new(),
            // Only the rules refuse the input: their 422 stands as it is.
            Err(refusal @ ApiError::Unprocessable { .. }) if errors.is_empty() => return Err(refusal),
            Err(ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. }) => errors,
            Err(other) => return Err(other),
        };
        let stood_in = |field: &str| stand_ins.iter().any(|key| top_level(field) == key);
        errors.extend(rule_errors.into_iter().filter(|error| !stood_in(&error.field)));
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(ApiError::fields(errors))
        }
    }
}

/// `baseline` of `baseline.year`, `appearances` of `appearances[0].description`.
fn top_level(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or_default()
}

/// The top-level fields of a form and the required ones, from its OpenAPI schema.
fn form_fields<T: ToSchema>() -> (Vec<String>, Vec<String>) {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => (object.properties.keys().cloned().collect(), object.required),
        _ => (Vec::new(), Vec::new()),
    }
}

pub(super) fn parse_input<T>(value: Value) -> Result<Parsed<T>, ApiError>
where
    T: DeserializeOwned + Serialize + Default + ToSchema,
{
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_field("body", "must be a JSON object"));
    };
    let (fields, required) = form_fields::<T>();
    let mut errors = Vec::new();
    if !fields.is_empty() {
        let unknown: Vec<String> = object.keys().filter(|key| !fields.contains(key)).cloned().collect();
        for key in unknown {
            object.remove(&key);
            errors.push(FieldError {
                field: key,
                message: format!("is not a field of this record; its fields are {}", fields.join(", ")),
            });
        }
    }
    let mut stand_ins = Vec::new();
    for field in required.iter().filter(|field| !object.contains_key(*field)) {
        stand_ins.push(field.clone());
        errors.push(FieldError {
            field: field.clone(),
            message: "is required".into(),
        });
    }
    let defaults = match serde_json::to_value(T::default()) {
        Ok(Value::Object(defaults)) => defaults,
        _ => serde_json::Map::new(),
    };
    // Each round names one mistyped field and lets its default stand in, until the rest parses.
    for _ in 0..=fields.len().max(object.len()) {
        let mut candidate = defaults.clone();
        candidate.extend(object.clone());
        // Read from the JSON text, not the `Value`: only the text reader hands a decimal over with
        // its digits as sent (`0.000001` and `1e-6` are one f64 once a `Value` reads them out).
        let text =
            serde_json::to_string(&Value::Object(candidate)).map_err(|error| ApiError::Internal(error.to_string()))?;
        match serde_path_to_error::deserialize::<_, T>(&mut serde_json::Deserializer::from_str(&text)) {
            Ok(input) => {
                return Ok(Parsed {
                    input,
                    errors,
                    stand_ins,
                })
            }
            Err(error) => {
                let path = error.path().to_string();
                let key = top_level(&path).to_string();
                errors.push(FieldError {
                    field: if key.is_empty() { "body".into() } else { path },
                    message: error.inner().to_string(),
                });
                if object.remove(&key).is_none() {
                    break;
                }
                stand_ins.push(key);
            }
        }
    }
    Err(ApiError::fields(errors))
}

/// Both sets of rules' failures, every field named: a 400 when any of them is one (the input does
/// not fit the document), else a 422.
pub(super) fn all_of(first: Result<(), ApiError>, second: Result<(), ApiError>) -> Result<(), ApiError> {
    let failures = |result: Result<(), ApiError>| match result {
        Ok(()) => Ok(None),
        Err(ApiError::BadRequest { errors, .. }) => Ok(Some((true, errors))),
        Err(ApiError::Unprocessable { errors, .. }) => Ok(Some((false, errors))),
        Err(other) => Err(other),
    };
    let (mut off_document, mut errors) = (false, Vec::new());
    for (off, failed) in [failures(first)?, failures(second)?].into_iter().flatten() {
        off_document |= off;
        errors.extend(failed);
    }
    match (errors.is_empty(), off_document) {
        (true, _) => Ok(()),
        (false, true) => Err(ApiError::fields(errors)),
        (false, false) => Err(ApiError::refusals(errors)),
    }
}

/// RFC 7396 JSON merge patch: objects merge, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) if patch.is_object() => {
            *target = Value::Object(serde_json::Map::new());
            merge_patch(target, patch);
        }
        (target, patch) => *target = patch.clone(),
    }
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|error| ApiError::Internal(error.to_string()))
}

/// Answers a written record as a following GET would; authenticated answers are never cached.
pub(super) fn written(status: StatusCode, body: Vec<u8>, location: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ETAG, etag_of(&body)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json");
    if let Some(location) = location {
        response.insert_header((header::LOCATION, location));
    }
    response.body(body)
}

/// `POST /{collection}`.
pub async fn create<R: Record>(
    db: &Database,
    writer: Writer,
    request: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    writer.principal.require(R::SCOPE)?;
    let parsed = parse_input::<R::Input>(json_body(request, body)?)?;
    let (id, after) = db
        .write(move |conn| {
            let rules = R::validate(conn, &parsed.input, None);
            let input = parsed.finish(rules)?;
            R::authorize(&writer.principal, conn, None, Some(&input))?;
            let id = R::insert(conn, &input)?;
            let after = R::load(conn, id)?;
            writer.check_record_plan::<R>(conn, R::plan_of(&after))?;
            let after = to_json(&after)?;
            audit::<R>(conn, &writer, id, Operation::Create, None, Some(&after))?;
            Ok((id, after))
        })
        .await?;
    Ok(written(StatusCode::CREATED, after, Some(format!("{}/{id}", R::PATH))))
}

/// `PATCH /{collection}/{id}`: a JSON merge patch of the editable fields, under If-Match.
pub async fn patch<R: Record>(
    db: &Database,
    writer: Writer,
    request: &HttpRequest,
    id: i64,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    patch_with::<R>(db, writer, request, id, body, |_, _| Ok(())).await
}

/// The same, with `more_rules` (given the record as it was, and as it would be) beside the record's
/// own: rules that need what only the request has (the deployment's settings), every failure named
/// together with the others.
pub async fn patch_with<R: Record>(
    db: &Database,
    writer: Writer,
    request: &HttpRequest,
    id: i64,
    body: &[u8],
    more_rules: impl FnOnce(&R::View, &R::Input) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let patch = json_body(request, body)?;
    if !patch.is_object() {
        return Err(ApiError::bad_field("body", "a merge patch must be a JSON object"));
    }
    change::<R>(db, writer, id, move |conn, writer, before| {
        let mut editable =
            serde_json::to_value(R::input_of(before)).map_err(|error| ApiError::Internal(error.to_string()))?;
        merge_patch(&mut editable, &patch);
        let parsed = parse_input::<R::Input>(editable)?;
        let rules = all_of(
            R::validate(conn, &parsed.input, Some(id)),
            more_rules(before, &parsed.input),
        );
        let input = parsed.finish(rules)?;
        R::authorize(&writer.principal, conn, Some(before), Some(&input))?;
        R::update(conn, id, &input)
    })
    .await
}

/// Any change of one record under If-Match, in one transaction with its audit record: `apply`
/// writes it, given the record as it was (a merge patch, a revision of a KPI's target).
pub async fn change<R: Record>(
    db: &Database,
    writer: Writer,
    id: i64,
    apply: impl FnOnce(&mut DbConnection, &Writer, &R::View) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    writer.principal.require(R::SCOPE)?;
    let condition = writer.precondition()?;
    let after = db
        .write(move |conn| {
            let before = R::load(conn, id)?;
            let before_json = to_json(&before)?;
            if !matches_record(&condition, &before_json) {
                return Err(ApiError::PreconditionFailed);
            }
            writer.check_record_plan::<R>(conn, R::plan_of(&before))?;
            R::authorize(&writer.principal, conn, Some(&before), None)?;
            apply(conn, &writer, &before)?;
            let after = R::load(conn, id)?;
            writer.check_record_plan::<R>(conn, R::plan_of(&after))?;
            let after = to_json(&after)?;
            audit::<R>(conn, &writer, id, Operation::Update, Some(&before_json), Some(&after))?;
            Ok(after)
        })
        .await?;
    Ok(written(StatusCode::OK, after, None))
}

/// `DELETE /{collection}/{id}`, under If-Match; refused while other records depend on it.
pub async fn delete<R: Record>(db: &Database, writer: Writer, id: i64) -> Result<HttpResponse, ApiError> {
    writer.principal.require(R::SCOPE)?;
    let condition = writer.precondition()?;
    db.write(move |conn| {
        let before = R::load(conn, id)?;
        let before_json = to_json(&before)?;
        if !matches_record(&condition, &before_json) {
            return Err(ApiError::PreconditionFailed);
        }
        writer.check_record_plan::<R>(conn, R::plan_of(&before))?;
        R::authorize(&writer.principal, conn, Some(&before), None)?;
        let dependents = R::dependents(conn, id)?;
        if !dependents.is_empty() {
            return Err(ApiError::Conflict(format!(
                "{} {id} cannot be deleted while these depend on it: {}",
                R::RESOURCE,
                dependents.join(", ")
            )));
        }
        R::delete(conn, id)?;
        audit::<R>(conn, &writer, id, Operation::Delete, Some(&before_json), None)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

fn audit<R: Record>(
    conn: &mut DbConnection,
    writer: &Writer,
    id: i64,
    operation: Operation,
    before: Option<&[u8]>,
    after: Option<&[u8]>,
) -> Result<(), ApiError> {
    audit_write(conn, writer, R::RESOURCE, id, operation, before, after)
}

/// Records one write, in the write's own transaction.
pub(super) fn audit_write(
    conn: &mut DbConnection,
    writer: &Writer,
    resource: &str,
    id: i64,
    operation: Operation,
    before: Option<&[u8]>,
    after: Option<&[u8]>,
) -> Result<(), ApiError> {
    let text = |bytes: Option<&[u8]>| bytes.map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    write::audit(
        conn,
        AuditEntry {
            subject: &writer.principal.subject,
            jti: &writer.principal.jti,
            method: &writer.method,
            resource,
            record_id: id,
            operation,
            before: text(before),
            after: text(after),
        },
        db::now(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nesting_depth_counts_brackets_outside_strings() {
        assert_eq!(nesting_depth(br#"{"name": "x"}"#), 1);
        assert_eq!(nesting_depth(br#"{"a": [{"b": [1]}]}"#), 4);
        assert_eq!(nesting_depth(br#"{"a": "[[[{{{\"[["}"#), 1);
        assert_eq!(nesting_depth(b"[[[[]]]][]"), 4);
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // The examples of RFC 7396, appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "patch {patch}");
        }
    }

    #[test]
    fn etags_are_strong_and_compared_exactly() {
        let etag = etag_of(b"{\"version\":1}");
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 26);
        assert_ne!(etag, etag_of(b"{\"version\":2}"));
        assert!(matches(&etag, &etag));
        assert!(matches(&format!("\"x\", {etag}"), &etag));
        assert!(matches("*", &etag));
        assert!(!matches(&format!("W/{etag}"), &etag));
    }
}

/// Declares the documented handlers of one resource: `GET /{id}` and the three writes, each
/// named in the document `get{name}`, `create{name}`, `update{name}`, `delete{name}`, and
/// (the caller imports `actix_web::{delete, get, patch, post}`: utoipa recognises them only by name)
/// a call of the generic function above. Only the OpenAPI facts differ between resources.
macro_rules! record_endpoints {
    (
        record: $record:ident, name: $name:literal, form: $form:ident, view: $view:ident, tag: $tag:tt, scope: $scope:tt,
        collection: $collection:tt, item: $item:tt,
        get: $get:ident $get_doc:tt,
        create: $create:ident $create_doc:tt,
        update: $update:ident $update_doc:tt,
        delete: $delete:ident $delete_doc:tt $(,)?
    ) => {
        #[doc = $get_doc]
        #[utoipa::path(
            operation_id = concat!("get", $name),
            tag = $tag,
            params(("id" = i64, Path, description = "Record id", example = 1, minimum = 1)),
            responses(
                (status = 200, description = "The record", body = $view,
                 headers(("ETag" = String, description = "Strong validator of this representation; send it in If-Match to write"))),
                $crate::error::ItemErrors,
            )
        )]
        #[get($item)]
        pub async fn $get(
            db: actix_web::web::Data<$crate::db::Database>,
            request: actix_web::HttpRequest,
            id: actix_web::web::Path<i64>,
        ) -> Result<actix_web::HttpResponse, $crate::error::ApiError> {
            $crate::api::records::get_one::<$record>(&db, &request, id.into_inner()).await
        }

        #[doc = $create_doc]
        #[utoipa::path(
            operation_id = concat!("create", $name),
            tag = $tag,
            request_body(content = $form, content_type = "application/json"),
            security(("bearer" = [$scope])),
            responses(
                (status = 201, description = "Created; the body is the record as a GET returns it", body = $view,
                 headers(("Location" = String, description = "URL of the new record"),
                         ("ETag" = String, description = "Validator of the new record"))),
                $crate::error::CreateErrors,
            )
        )]
        #[post($collection)]
        pub async fn $create(
            db: actix_web::web::Data<$crate::db::Database>,
            writer: $crate::api::records::Writer,
            request: actix_web::HttpRequest,
            body: actix_web::web::Bytes,
        ) -> Result<actix_web::HttpResponse, $crate::error::ApiError> {
            $crate::api::records::create::<$record>(&db, writer, &request, &body).await
        }

        #[doc = $update_doc]
        #[utoipa::path(
            operation_id = concat!("update", $name),
            tag = $tag,
            params(("id" = i64, Path, description = "Record id", example = 1, minimum = 1), $crate::api::records::IfMatch),
            request_body(content = $form, content_type = "application/merge-patch+json",
                         description = "A JSON merge patch (RFC 7396) of these fields: only the fields sent change"),
            security(("bearer" = [$scope])),
            responses(
                (status = 200, description = "Updated; the body is the record as a GET returns it", body = $view,
                 headers(("ETag" = String, description = "Validator of the updated record"))),
                $crate::error::PatchErrors,
            )
        )]
        #[patch($item)]
        pub async fn $update(
            db: actix_web::web::Data<$crate::db::Database>,
            writer: $crate::api::records::Writer,
            request: actix_web::HttpRequest,
            id: actix_web::web::Path<i64>,
            body: actix_web::web::Bytes,
        ) -> Result<actix_web::HttpResponse, $crate::error::ApiError> {
            $crate::api::records::patch::<$record>(&db, writer, &request, id.into_inner(), &body).await
        }

        #[doc = $delete_doc]
        #[utoipa::path(
            operation_id = concat!("delete", $name),
            tag = $tag,
            params(("id" = i64, Path, description = "Record id", example = 1, minimum = 1), $crate::api::records::IfMatch),
            security(("bearer" = [$scope])),
            responses((status = 204, description = "Deleted"), $crate::error::DeleteErrors)
        )]
        #[delete($item)]
        pub async fn $delete(
            db: actix_web::web::Data<$crate::db::Database>,
            writer: $crate::api::records::Writer,
            id: actix_web::web::Path<i64>,
        ) -> Result<actix_web::HttpResponse, $crate::error::ApiError> {
            $crate::api::records::delete::<$record>(&db, writer, id.into_inner()).await
        }
    };
}
pub(crate) use record_endpoints;

/// The precondition header of every PATCH and DELETE.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatch {
    /// The record's current ETag, from a GET: the write applies only if nobody changed it since.
    #[param(rename = "If-Match", required = true, example = "\"9a0364b9e99bb480dd25e1f0\"")]
    pub if_match: String,
}

/// The conditional header of every API read (`middleware::conditional_get`).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ConditionalGet {
    /// An ETag from an earlier GET: answers 304 without a body while the answer is unchanged.
    #[param(rename = "If-None-Match")]
    pub if_none_match: Option<String>,
}
