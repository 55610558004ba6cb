//! `/webhooks`: admins subscribe other systems to the change feed, pushed to them as signed
//! webhooks (Standard Webhooks); see each subscription's deliveries and send one again.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::changes::Change;
use super::records::{self, Record, Writer};
use super::{collection, utc, QueryParams};
use crate::auth::Scope;
use crate::db::webhooks::{
    self as store, AttemptRow, DeliveryRow, FeedOperation, FeedResource, SubscriptionRow, WebhookForm, WebhookState,
    WebhookStatus,
};
use crate::db::write::{AuditRow, Operation};
use crate::db::{self, Database, DbConnection};
use crate::domain::validate::{Checks, MAX_NAME};
use crate::error::{ApiError, CreateErrors, DeleteErrors, PatchErrors};
use crate::notify::{signature, targets};

/// Whether webhook targets may be private addresses (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
pub struct TargetPolicy {
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Refuses a target whose address (or always-local name) is not public, unless allowed.
    fn check(&self, form: &WebhookForm) -> Result<(), ApiError> {
        let refusal = targets::check_shape(&form.url)
            .ok()
            .and_then(|url| targets::refusal(&url, self.allow_private));
        match refusal {
            Some(reason) => Err(ApiError::refused_field("url", reason)),
            None => Ok(()),
        }
    }
}

/// A subscription to the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "https://hooks.city.atsugi.example/strategy")]
    pub url: String,
    #[schema(example = "市公式サイトの更新")]
    pub description: Option<String>,
    /// The resources whose changes are delivered; empty for every one.
    pub resources: Vec<FeedResource>,
    /// The operations delivered; empty for every one.
    pub operations: Vec<FeedOperation>,
    /// Only changes of this plan; absent for every plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub plan_id: Option<i64>,
    pub status: WebhookStatus,
    /// What went wrong at the last failed attempt, and when.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Until when deliveries are also signed with the secret before the last rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for Webhook {
    fn from(row: SubscriptionRow) -> Self {
        Webhook {
            resources: row.resources(),
            operations: row.operations(),
            status: row.status(),
            id: row.id,
            url: row.url,
            description: row.description,
            plan_id: row.plan_id,
            last_error: row.last_error,
            last_error_at: row.last_error_at.map(utc),
            previous_secret_expires_at: row.previous_secret_expires_at.map(utc),
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

/// A subscription with the secret it signs with: shown only in the answer that made the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (`whsec_` and base64), for the receiver's Standard Webhooks verifier.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// Subscriptions are kept by admins.
pub struct WebhookRecord;

impl Record for WebhookRecord {
    const RESOURCE: &'static str = store::RESOURCE;
    const PATH: &'static str = "/api/v1/webhooks";
    const SCOPE: Scope = Scope::Admin;
    type View = Webhook;
    type Input = WebhookForm;

    fn load(conn: &mut DbConnection, id: i64) -> Result<Webhook, ApiError> {
        Ok(store::get(conn, id)?.into())
    }

    fn input_of(view: &Webhook) -> WebhookForm {
        WebhookForm {
            url: view.url.clone(),
            description: view.description.clone(),
            resources: view.resources.clone(),
            operations: view.operations.clone(),
            plan_id: view.plan_id,
            // Failing is the service's to set: a patch that does not send a status leaves it.
            status: match view.status {
                WebhookStatus::Active => Some(WebhookState::Active),
                WebhookStatus::Paused => Some(WebhookState::Paused),
                WebhookStatus::Failing => None,
            },
        }
    }

    fn validate(conn: &mut DbConnection, input: &WebhookForm, id: Option<i64>) -> Result<(), ApiError> {
        let mut checks = Checks::default();
        let url = &input.url;
        let plain = ["http://", "https://"].iter().any(|scheme| url.starts_with(scheme))
            && !url.chars().any(char::is_whitespace)
            && url.chars().count() <= targets::MAX_URL;
        if !plain {
            checks.fail(
                "url",
                format!(
                    "must be an http or https URL of at most {} characters",
                    targets::MAX_URL
                ),
            );
        } else if let Err(reason) = targets::check_shape(url) {
            checks.refuse("url", reason);
        }
        if let Some(description) = &input.description {
            checks.text("description", description, MAX_NAME);
        }
        // A plan deleted since it was named stays named (its own deletion was the last change sent):
        // only a plan newly named must exist.
        let current = id.map(|id| store::get(conn, id)).transpose()?;
        if let Some(plan) = input
            .plan_id
            .filter(|plan| current.is_none_or(|row| row.plan_id != Some(*plan)))
        {
            if !store::plan_exists(conn, plan)? {
                checks.refuse("plan_id", format!("plan {plan} does not exist"));
            }
        }
        checks.finish()
    }

    fn insert(conn: &mut DbConnection, input: &WebhookForm) -> Result<i64, ApiError> {
        let secret = signature::new_secret().map_err(ApiError::Internal)?;
        store::insert(conn, &normalised(input)?, &secret, db::now())
    }

    fn update(conn: &mut DbConnection, id: i64, input: &WebhookForm) -> Result<(), ApiError> {
        store::update(conn, id, &normalised(input)?, db::now())
    }

    fn dependents(_conn: &mut DbConnection, _id: i64) -> Result<Vec<String>, ApiError> {
        // Its deliveries go with it.
        Ok(Vec::new())
    }

    fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
        store::delete(conn, id)
    }

    fn plan_of(_view: &Webhook) -> Option<i64> {
        None
    }
}

/// The form with its URL as it is sent to (an international host name in its ASCII form).
fn normalised(input: &WebhookForm) -> Result<WebhookForm, ApiError> {
    let url = targets::check_shape(&input.url).map_err(|reason| ApiError::refused_field("url", reason))?;
    Ok(WebhookForm {
        url: url.to_string(),
        ..input.clone()
    })
}

/// The caller, when it may keep subscriptions: an admin token for every plan.
fn keeper(writer: &Writer) -> Result<(), ApiError> {
    writer.require(Scope::Admin)?;
    writer.require_every_plan("a webhook subscription")
}

/// Subscriptions (admin), oldest first.
#[utoipa::path(
    operation_id = "listWebhooks",
    tag = "webhooks",
    params(super::PageParams),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of subscriptions", body = super::Collection<Webhook>),
        (status = 401, response = crate::error::responses::Unauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        crate::error::ListErrors,
    )
)]
#[get("/webhooks")]
pub async fn list(db: web::Data<Database>, caller: Writer, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    keeper(&caller)?;
    let mut params = QueryParams::parse(request.query_string())?;
    let page = params.page(store::WEBHOOK_SORT)?;
    params.finish()?;
    let listing = db.run(move |conn| store::list(conn, page)).await?;
    collection::<SubscriptionRow, Webhook>(&request, listing)
}

/// Subscribe a system to the change feed (admin): every committed change it asks for is POSTed to
/// its URL, signed (Standard Webhooks), in cursor order, retried for a day. The answer shows the
/// signing secret, this once.
#[utoipa::path(
    operation_id = "createWebhook",
    tag = "webhooks",
    request_body(content = WebhookForm, content_type = "application/json"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Subscribed; the body is the subscription and its signing secret", body = WebhookWithSecret,
         headers(("Location" = String, description = "URL of the new subscription"),
                 ("ETag" = String, description = "Validator of the new subscription"))),
        CreateErrors,
    )
)]
#[post("/webhooks")]
pub async fn create(
    db: web::Data<Database>,
    policy: web::Data<TargetPolicy>,
    writer: Writer,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    keeper(&writer)?;
    let parsed = records::parse_input::<WebhookForm>(records::json_body(&request, &body)?)?;
    let (id, view, secret) = db
        .write(move |conn| {
            let rules = records::all_of(
                WebhookRecord::validate(conn, &parsed.input, None),
                policy.check(&parsed.input),
            );
            let input = parsed.finish(rules)?;
            let id = WebhookRecord::insert(conn, &input)?;
            let view = WebhookRecord::load(conn, id)?;
            let after = records::to_json(&view)?;
            records::audit_write(
                conn,
                &writer,
                store::RESOURCE,
                id,
                Operation::Create,
                None,
                Some(&after),
            )?;
            Ok((id, view, store::secret_of(conn, id)?))
        })
        .await?;
    with_secret(
        StatusCode::CREATED,
        view,
        secret,
        Some(format!("{}/{id}", WebhookRecord::PATH)),
    )
}

/// The subscription and its new secret, answered with the subscription's own ETag.
fn with_secret(
    status: StatusCode,
    webhook: Webhook,
    secret: String,
    location: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let etag = records::etag_of(&records::to_json(&webhook)?);
    let mut response = records::written(
        status,
        records::to_json(&WebhookWithSecret { webhook, secret })?,
        location,
    );
    response.headers_mut().insert(
        actix_web::http::header::ETAG,
        etag.parse()
            .map_err(|_| ApiError::Internal("an ETag is a header value".into()))?,
    );
    Ok(response)
}

/// One subscription (admin), without its secret.
#[utoipa::path(
    operation_id = "getWebhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1)),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The subscription", body = Webhook,
         headers(("ETag" = String, description = "Send it in If-Match to change the subscription"))),
        (status = 401, response = crate::error::responses::Unauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        crate::error::ItemErrors,
    )
)]
#[get("/webhooks/{id}")]
pub async fn get(db: web::Data<Database>, caller: Writer, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    keeper(&caller)?;
    let id = id.into_inner();
    let view = db.run(move |conn| WebhookRecord::load(conn, id)).await?;
    Ok(records::written(StatusCode::OK, records::to_json(&view)?, None))
}

/// Change a subscription (admin) as a JSON merge patch under If-Match: its URL, filters, or
/// `status` to pause it or resume it (also after it failed).
#[utoipa::path(
    operation_id = "updateWebhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1), records::IfMatch),
    request_body(content = WebhookForm, content_type = "application/merge-patch+json",
                 description = "A JSON merge patch (RFC 7396) of these fields: only the fields sent change"),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Changed; the body is the subscription as a GET returns it", body = Webhook,
         headers(("ETag" = String, description = "Validator of the changed subscription"))),
        PatchErrors,
    )
)]
#[patch("/webhooks/{id}")]
pub async fn update(
    db: web::Data<Database>,
    policy: web::Data<TargetPolicy>,
    writer: Writer,
    request: HttpRequest,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // A target is judged when it changes: one allowed before stays until it is changed.
    records::patch_with::<WebhookRecord>(&db, writer, &request, id.into_inner(), &body, move |before, form| {
        if form.url == before.url {
            Ok(())
        } else {
            policy.check(form)
        }
    })
    .await
}

/// Delete a subscription (admin) under If-Match, with its deliveries.
#[utoipa::path(
    operation_id = "deleteWebhook",
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1), records::IfMatch),
    security(("bearer" = ["admin"])),
    responses((status = 204, description = "Deleted"), DeleteErrors)
)]
#[delete("/webhooks/{id}")]
pub async fn remove(db: web::Data<Database>, writer: Writer, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    records::delete::<WebhookRecord>(&db, writer, id.into_inner()).await
}

/// How long the secret before a rotation keeps signing.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotationParams {
    /// Seconds the previous secret keeps signing beside the new one (both signatures are sent),
    /// so that receivers switch without losing a delivery: 0 to 604800 (a week), default 86400.
    /// 0 drops it at once (a secret that leaked).
    #[param(minimum = 0, maximum = 604_800, example = 86_400)]
    pub previous_valid_secs: Option<i64>,
}

/// Most seconds a previous secret keeps signing.
const MAX_OVERLAP_SECS: i64 = 604_800;

/// Give a subscription a new signing secret (admin), shown this once, under If-Match.
#[utoipa::path(
    operation_id = "rotateWebhookSecret",
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1), RotationParams, records::IfMatch),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The subscription and its new signing secret", body = WebhookWithSecret,
         headers(("ETag" = String, description = "Validator of the subscription"))),
        PatchErrors,
    )
)]
#[post("/webhooks/{id}/secret")]
pub async fn rotate_secret(
    db: web::Data<Database>,
    writer: Writer,
    request: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    keeper(&writer)?;
    let mut params = QueryParams::parse(request.query_string())?;
    let overlap = params
        .bounded("previous_valid_secs", 0, MAX_OVERLAP_SECS)?
        .unwrap_or(86_400);
    params.finish()?;
    let id = id.into_inner();
    let secret = signature::new_secret().map_err(ApiError::Internal)?;
    let new_secret = secret.clone();
    records::change::<WebhookRecord>(&db, writer, id, move |conn, _, _| {
        let now = db::now();
        store::rotate_secret(conn, id, &new_secret, now + chrono::TimeDelta::seconds(overlap), now)
    })
    .await?;
    let view = db.run(move |conn| WebhookRecord::load(conn, id)).await?;
    with_secret(StatusCode::OK, view, secret, None)
}

/// The state of a delivery.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its turn, or for its next attempt.
    Pending,
    Delivered,
    /// Given up after the retry window (its subscription is failing): resuming the subscription
    /// sends it again first, as `redeliver` does.
    Failed,
}

impl DeliveryStatus {
    fn of(stored: &str) -> Self {
        match stored {
            store::DELIVERED => DeliveryStatus::Delivered,
            store::FAILED => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }

    fn stored(self) -> String {
        match self {
            DeliveryStatus::Pending => store::PENDING,
            DeliveryStatus::Delivered => store::DELIVERED,
            DeliveryStatus::Failed => store::FAILED,
        }
        .to_string()
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.stored() == text)
        .ok_or_else(|| "must be pending, delivered or failed".to_string())
    }
}

/// One change sent (or to be sent) to a subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(example = 12)]
    pub id: i64,
    #[schema(example = 1)]
    pub webhook_id: i64,
    /// The `webhook-id` header: the same for every attempt.
    #[schema(example = "msg_0f3c2a7e9b8d4c1fa6e5d3b2c1a09f8e")]
    pub message_id: String,
    /// The change's cursor in the feed.
    #[schema(example = 1042)]
    pub cursor: i64,
    /// The event type, as in the payload.
    #[serde(rename = "type")]
    #[schema(example = "kpi_result.updated")]
    pub kind: String,
    pub status: DeliveryStatus,
    /// Attempts so far.
    #[schema(example = 1)]
    pub attempt_count: i32,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's status at the last attempt; null when it did not answer.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every attempt, newest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; null when it did not answer (timeout, refused connection, a target
    /// refused by the address check).
    #[schema(example = 503)]
    pub status_code: Option<i32>,
    #[schema(example = "no answer within 15s (WEBHOOK_TIMEOUT_SECS)")]
    pub error: Option<String>,
    #[schema(example = 42)]
    pub duration_ms: i64,
}

impl From<AttemptRow> for DeliveryAttempt {
    fn from(row: AttemptRow) -> Self {
        DeliveryAttempt {
            attempted_at: utc(row.attempted_at),
            status_code: row.status_code,
            error: row.error,
            duration_ms: row.duration_ms,
        }
    }
}

impl Delivery {
    fn new(row: DeliveryRow, resource: &str, operation: &str, attempts: Vec<DeliveryAttempt>) -> Self {
        let status = DeliveryStatus::of(&row.status);
        Delivery {
            id: row.id,
            webhook_id: row.subscription_id,
            message_id: row.message_id,
            cursor: row.change_id,
            kind: event_type(resource, operation),
            status,
            attempt_count: row.attempts,
            next_attempt_at: matches!(status, DeliveryStatus::Pending).then(|| utc(row.next_attempt_at)),
            last_attempt_at: row.last_attempt_at.map(utc),
            last_status_code: row.last_status,
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(utc),
            created_at: utc(row.created_at),
            attempts,
        }
    }
}

/// A page of deliveries with their attempts.
fn deliveries_with_attempts(
    conn: &mut DbConnection,
    listing: crate::db::Listing<(DeliveryRow, String, String)>,
) -> Result<crate::db::Listing<Delivery>, ApiError> {
    let ids: Vec<i64> = listing.items.iter().map(|(row, ..)| row.id).collect();
    let mut attempts = store::attempts_of(conn, &ids)?;
    listing.try_map(|rows| {
        Ok(rows
            .into_iter()
            .map(|(row, resource, operation)| {
                let (own, rest): (Vec<AttemptRow>, Vec<AttemptRow>) =
                    attempts.drain(..).partition(|attempt| attempt.delivery_id == row.id);
                attempts = rest;
                Delivery::new(row, &resource, &operation, own.into_iter().map(Into::into).collect())
            })
            .collect())
    })
}

/// Filters of a subscription's deliveries.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state.
    #[param(inline)]
    pub status: Option<DeliveryStatus>,
}

/// A subscription's deliveries (admin), newest first unless sorted otherwise, each with its attempts.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1), DeliveryParams, super::PageParams),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of deliveries", body = super::Collection<Delivery>),
        (status = 401, response = crate::error::responses::Unauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        crate::error::ItemErrors,
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    db: web::Data<Database>,
    caller: Writer,
    request: HttpRequest,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    keeper(&caller)?;
    let subscription = id.into_inner();
    let mut params = QueryParams::parse(request.query_string())?;
    let status = params.choice::<DeliveryStatus>("status")?.map(DeliveryStatus::stored);
    let mut page = params.page(store::DELIVERY_SORT)?;
    params.finish()?;
    if page.sort.is_empty() {
        page.sort.push(crate::db::SortKey {
            field: "id".into(),
            descending: true,
        });
    }
    let listing = db
        .run(move |conn| {
            let filter = store::DeliveryFilter { status, id: None };
            let listing = store::deliveries(conn, subscription, &filter, page)?;
            deliveries_with_attempts(conn, listing)
        })
        .await?;
    collection::<Delivery, Delivery>(&request, listing)
}

/// Send a delivery again (admin), with its webhook-id and a fresh retry window: one the receiver
/// lost. It keeps its place in cursor order: it goes at once when no older change of the
/// subscription waits and the subscription is active, else after them, or when it resumes.
#[utoipa::path(
    operation_id = "redeliverWebhookDelivery",
    tag = "webhooks",
    params(
        ("id" = i64, Path, description = "Subscription id", example = 1, minimum = 1),
        ("delivery" = i64, Path, description = "Delivery id", example = 12, minimum = 1),
    ),
    security(("bearer" = ["admin"])),
    responses(
        (status = 202, description = "Queued; the body is the delivery", body = Delivery),
        (status = 401, response = crate::error::responses::Unauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        crate::error::ItemErrors,
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery}/redeliver")]
pub async fn redeliver(
    db: web::Data<Database>,
    caller: Writer,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    keeper(&caller)?;
    let (subscription, delivery) = path.into_inner();
    let subject = caller.subject().to_string();
    let view = db
        .write(move |conn| {
            store::redeliver(conn, subscription, delivery, db::now())?;
            let only = store::DeliveryFilter {
                status: None,
                id: Some(delivery),
            };
            let page = crate::db::Page {
                limit: 1,
                offset: 0,
                sort: Vec::new(),
            };
            let listing = store::deliveries(conn, subscription, &only, page)?;
            deliveries_with_attempts(conn, listing)?
                .items
                .pop()
                .ok_or_else(|| ApiError::not_found("delivery", delivery))
        })
        .await?;
    log::info!("{subject} redelivers {} of webhook {subscription}", view.message_id);
    Ok(records::written(StatusCode::ACCEPTED, records::to_json(&view)?, None))
}

/// `kpi.updated`: the resource and the operation done, as Standard Webhooks names event types.
pub fn event_type(resource: &str, operation: &str) -> String {
    format!("{resource}.{operation}d")
}

/// What a webhook POSTs: one change of the feed and the record it changed (Standard Webhooks'
/// `type`, `timestamp`, `data`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// `<resource>.created`, `.updated` or `.deleted`, e.g. `kpi_result.updated`.
    #[serde(rename = "type")]
    #[schema(example = "kpi_result.updated")]
    pub kind: String,
    /// When the change was committed.
    pub timestamp: DateTime<Utc>,
    pub data: WebhookEventData,
}

/// The change, as the feed lists it, and the record.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventData {
    #[serde(flatten)]
    pub change: Change,
    /// The record as a GET returned it after the change; for a delete, as it was before.
    #[schema(value_type = Object)]
    pub record: Option<Box<RawValue>>,
}

impl WebhookEvent {
    /// The payload of a change, as sent (and signed): the same bytes at every attempt.
    pub fn body(change: &AuditRow) -> Result<Vec<u8>, String> {
        let record = change
            .after_json
            .as_deref()
            .or(change.before_json.as_deref())
            .map(|text| RawValue::from_string(text.to_string()))
            .transpose()
            .map_err(|error| format!("the audit record of change {} is not JSON: {error}", change.id))?;
        let event = WebhookEvent {
            kind: event_type(&change.resource, &change.operation),
            timestamp: utc(change.occurred_at),
            data: WebhookEventData {
                change: Change::from(change.clone()),
                record,
            },
        };
        serde_json::to_vec(&event).map_err(|error| error.to_string())
    }
}
