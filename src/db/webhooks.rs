//! Webhook subscriptions; the outbox of their deliveries, written in the transaction of the change
//! each delivers; every attempt; and the lease by which one worker at a time (of any instance)
//! delivers a subscription's changes, in cursor order.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{audit_log, plans, webhook_attempts, webhook_deliveries, webhook_subscriptions};
use super::write::{AuditEntry, AuditRow};
use super::{find_row, load_page, DbConnection, Listing, Page};
use crate::error::ApiError;

/// The resource name of subscriptions in the audit record (they are not in the public feed).
pub const RESOURCE: &str = "webhook";

/// What a subscription may ask for: the resources of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedResource {
    Plan,
    Goal,
    Measure,
    Initiative,
    Kpi,
    KpiResult,
    Project,
    Department,
    Division,
    Evaluation,
}

/// The operations of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedOperation {
    Create,
    Update,
    Delete,
}

/// What an admin may set a subscription to; the service itself sets `failing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookState {
    /// Deliveries are sent.
    Active,
    /// Deliveries are kept, in order, and sent when it is active again.
    Paused,
}

/// A subscription's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Active,
    Paused,
    /// Paused by the service: a delivery failed for the whole retry window, or the receiver
    /// answered 410 Gone. Deliveries are kept; setting `active` resumes them.
    Failing,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Paused => "paused",
            WebhookStatus::Failing => "failing",
        }
    }

    fn parse(text: &str) -> WebhookStatus {
        match text {
            "active" => WebhookStatus::Active,
            "failing" => WebhookStatus::Failing,
            _ => WebhookStatus::Paused,
        }
    }
}

impl From<WebhookState> for WebhookStatus {
    fn from(state: WebhookState) -> Self {
        match state {
            WebhookState::Active => WebhookStatus::Active,
            WebhookState::Paused => WebhookStatus::Paused,
        }
    }
}

/// A delivery's state, as stored.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// Editable fields of a subscription.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookForm {
    /// Where deliveries are POSTed: an http(s) URL of the public internet (the operator may allow
    /// private addresses), without user, password or fragment.
    #[schema(
        example = "https://hooks.city.atsugi.example/strategy",
        max_length = 2000,
        pattern = r"^https?://\S+$"
    )]
    pub url: String,
    /// What the receiver is, for the admins who keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "市公式サイトの更新", min_length = 1, max_length = 200)]
    pub description: Option<String>,
    /// The resources whose changes are delivered; empty (the default) for every one.
    #[serde(default)]
    pub resources: Vec<FeedResource>,
    /// The operations delivered; empty (the default) for every one.
    #[serde(default)]
    pub operations: Vec<FeedOperation>,
    /// Only changes of this plan (a plan's own deletion included); null (the default) for every plan.
    #[serde(default, deserialize_with = "crate::domain::input::integer::optional")]
    #[schema(example = 1)]
    pub plan_id: Option<i64>,
    /// `active` (the default for a new subscription) or `paused`; left as it is when not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookState>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    pub resources: String,
    pub operations: String,
    pub plan_id: Option<i64>,
    pub status: String,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl SubscriptionRow {
    pub fn status(&self) -> WebhookStatus {
        WebhookStatus::parse(&self.status)
    }

    pub fn resources(&self) -> Vec<FeedResource> {
        listed(&self.resources)
    }

    pub fn operations(&self) -> Vec<FeedOperation> {
        listed(&self.operations)
    }
}

/// A stored comma list read back as the values it was written from.
fn listed<T: for<'de> Deserialize<'de>>(text: &str) -> Vec<T> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .filter_map(|item| serde_json::from_value(serde_json::Value::String(item.to_string())).ok())
        .collect()
}

/// Values as a stored comma list: sorted, each once; empty for "every one".
fn list_text<T: Serialize + Ord + Copy>(values: &[T]) -> String {
    let mut values = values.to_vec();
    values.sort_unstable();
    values.dedup();
    values
        .iter()
        .filter_map(|value| serde_json::to_value(value).ok())
        .filter_map(|value| value.as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(",")
}

super::sortable!(
    WEBHOOK_SORT,
    sort_webhooks,
    webhook_subscriptions,
    [id, url, status, created_at, updated_at]
);

pub fn get(conn: &mut DbConnection, id: i64) -> Result<SubscriptionRow, ApiError> {
    Ok(find_row!(conn, webhook_subscriptions, SubscriptionRow, "webhook", id))
}

pub fn list(conn: &mut DbConnection, page: Page) -> Result<Listing<SubscriptionRow>, ApiError> {
    Ok(load_page!(
        conn,
        webhook_subscriptions::table.into_boxed(),
        SubscriptionRow,
        sort_webhooks,
        page
    ))
}

/// The plan a subscription is limited to exists.
pub fn plan_exists(conn: &mut DbConnection, plan_id: i64) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(plans::table.find(plan_id))).get_result(conn)?)
}

/// Stores a new subscription with its secret; returns its id. Runs in the serialising write
/// transaction, so the newest id is this one.
pub fn insert(conn: &mut DbConnection, form: &WebhookForm, secret: &str, at: NaiveDateTime) -> Result<i64, ApiError> {
    let status = form.status.map_or(WebhookStatus::Active, WebhookStatus::from);
    diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::url.eq(&form.url),
            webhook_subscriptions::description.eq(&form.description),
            webhook_subscriptions::resources.eq(list_text(&form.resources)),
            webhook_subscriptions::operations.eq(list_text(&form.operations)),
            webhook_subscriptions::plan_id.eq(form.plan_id),
            webhook_subscriptions::status.eq(status.as_str()),
            webhook_subscriptions::secret.eq(secret),
            webhook_subscriptions::created_at.eq(at),
            webhook_subscriptions::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(webhook_subscriptions::table
        .select(diesel::dsl::max(webhook_subscriptions::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or_default())
}

/// Applies the form; a status not sent stays as it is. Resuming picks the queue up where it
/// stopped: deliveries given up on (the failing one) are pending again, first in cursor order, and
/// nothing waits for a backoff, each with a fresh retry window.
pub fn update(conn: &mut DbConnection, id: i64, form: &WebhookForm, at: NaiveDateTime) -> Result<(), ApiError> {
    diesel::update(webhook_subscriptions::table.find(id))
        .set((
            webhook_subscriptions::url.eq(&form.url),
            webhook_subscriptions::description.eq(&form.description),
            webhook_subscriptions::resources.eq(list_text(&form.resources)),
            webhook_subscriptions::operations.eq(list_text(&form.operations)),
            webhook_subscriptions::plan_id.eq(form.plan_id),
            webhook_subscriptions::updated_at.eq(at),
        ))
        .execute(conn)?;
    let Some(state) = form.status else {
        return Ok(());
    };
    let status = WebhookStatus::from(state);
    if status == get(conn, id)?.status() {
        return Ok(());
    }
    diesel::update(webhook_subscriptions::table.find(id))
        .set(webhook_subscriptions::status.eq(status.as_str()))
        .execute(conn)?;
    if status == WebhookStatus::Active {
        let queue = webhook_deliveries::table
            .filter(webhook_deliveries::subscription_id.eq(id))
            .filter(webhook_deliveries::status.eq_any([PENDING, FAILED]));
        diesel::update(queue)
            .set((
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::first_attempt_at.eq(None::<NaiveDateTime>),
                webhook_deliveries::next_attempt_at.eq(at),
            ))
            .execute(conn)?;
        reschedule(conn, id)?;
    }
    Ok(())
}

/// Sets when a subscription is next worth a worker's look: when its oldest pending delivery is due
/// (deliveries go in cursor order, so no other can go first); never while none is pending.
fn reschedule(conn: &mut DbConnection, subscription: i64) -> Result<(), ApiError> {
    let head: Option<NaiveDateTime> = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .filter(webhook_deliveries::status.eq(PENDING))
        .order((webhook_deliveries::change_id.asc(), webhook_deliveries::id.asc()))
        .select(webhook_deliveries::next_attempt_at)
        .first(conn)
        .optional()?;
    diesel::update(webhook_subscriptions::table.find(subscription))
        .set(webhook_subscriptions::retry_at.eq(head))
        .execute(conn)?;
    Ok(())
}

/// A new secret; the one it replaces still signs until `previous_until` (now: not at all).
pub fn rotate_secret(
    conn: &mut DbConnection,
    id: i64,
    secret: &str,
    previous_until: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    let current: String = webhook_subscriptions::table
        .find(id)
        .select(webhook_subscriptions::secret)
        .first(conn)?;
    let keep = previous_until > at;
    diesel::update(webhook_subscriptions::table.find(id))
        .set((
            webhook_subscriptions::secret.eq(secret),
            webhook_subscriptions::previous_secret.eq(keep.then_some(current)),
            webhook_subscriptions::previous_secret_expires_at.eq(keep.then_some(previous_until)),
            webhook_subscriptions::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The secret a subscription signs with now (shown once, when created or rotated).
pub fn secret_of(conn: &mut DbConnection, id: i64) -> Result<String, ApiError> {
    Ok(webhook_subscriptions::table
        .find(id)
        .select(webhook_subscriptions::secret)
        .first(conn)?)
}

/// Deletes a subscription; its deliveries and their attempts go with it (ON DELETE CASCADE, so
/// that an attempt a worker records meanwhile cannot hold the delete back).
pub fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(webhook_subscriptions::table.find(id)).execute(conn)?;
    Ok(())
}

/// The outbox: a pending delivery of the change just audited for every subscription that wants
/// it (paused ones too: they keep their deliveries until they resume). Runs in the change's own
/// transaction, right after its audit record, whose id (the newest) is the feed's cursor.
pub fn enqueue(conn: &mut DbConnection, entry: &AuditEntry, at: NaiveDateTime) -> Result<(), ApiError> {
    let subscriptions: Vec<(i64, String, String, Option<i64>)> = webhook_subscriptions::table
        .select((
            webhook_subscriptions::id,
            webhook_subscriptions::resources,
            webhook_subscriptions::operations,
            webhook_subscriptions::plan_id,
        ))
        .load(conn)?;
    if subscriptions.is_empty() {
        return Ok(());
    }
    let wanted = |list: &str, value: &str| list.is_empty() || list.split(',').any(|item| item == value);
    let record = entry.after.as_deref().or(entry.before.as_deref());
    let mut plan: Option<Option<i64>> = None;
    let mut change_id = None;
    for (subscription, resources, operations, plan_filter) in subscriptions {
        if !wanted(&resources, entry.resource) || !wanted(&operations, entry.operation.as_str()) {
            continue;
        }
        if let Some(only) = plan_filter {
            let of_change = match plan {
                Some(known) => known,
                None => *plan.insert(super::write::plan_of_change(
                    conn,
                    entry.resource,
                    entry.record_id,
                    record,
                )?),
            };
            if of_change != Some(only) {
                continue;
            }
        }
        let change = match change_id {
            Some(id) => id,
            None => *change_id.insert(
                audit_log::table
                    .select(diesel::dsl::max(audit_log::id))
                    .first::<Option<i64>>(conn)?
                    .unwrap_or_default(),
            ),
        };
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::subscription_id.eq(subscription),
                webhook_deliveries::change_id.eq(change),
                webhook_deliveries::message_id.eq(format!("msg_{}", uuid::Uuid::new_v4().simple())),
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(at),
                webhook_deliveries::created_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscription_id: i64,
    pub change_id: i64,
    pub message_id: String,
    pub status: String,
    pub attempts: i32,
    pub first_attempt_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

super::sortable!(DELIVERY_SORT, sort_deliveries, webhook_deliveries, [id, created_at]);

/// Which of a subscription's deliveries to list.
#[derive(Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub id: Option<i64>,
}

/// A page of a subscription's deliveries, with their resource and operation (from the feed).
pub fn deliveries(
    conn: &mut DbConnection,
    subscription: i64,
    filter: &DeliveryFilter,
    page: Page,
) -> Result<Listing<(DeliveryRow, String, String)>, ApiError> {
    get(conn, subscription)?;
    let filtered = || {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::subscription_id.eq(subscription))
            .into_boxed();
        if let Some(status) = &filter.status {
            query = query.filter(webhook_deliveries::status.eq(status.clone()));
        }
        if let Some(id) = filter.id {
            query = query.filter(webhook_deliveries::id.eq(id));
        }
        query
    };
    let listing = load_page!(conn, filtered(), DeliveryRow, sort_deliveries, page);
    let changes: Vec<i64> = listing.items.iter().map(|row| row.change_id).collect();
    let kinds: std::collections::HashMap<i64, (String, String)> = audit_log::table
        .filter(audit_log::id.eq_any(changes))
        .select((audit_log::id, audit_log::resource, audit_log::operation))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(id, resource, operation)| (id, (resource, operation)))
        .collect();
    listing.try_map(|rows| {
        Ok(rows
            .into_iter()
            .map(|row| {
                let (resource, operation) = kinds.get(&row.change_id).cloned().unwrap_or_default();
                (row, resource, operation)
            })
            .collect())
    })
}

/// The attempts of these deliveries, newest first.
pub fn attempts_of(conn: &mut DbConnection, deliveries: &[i64]) -> Result<Vec<AttemptRow>, ApiError> {
    Ok(webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(deliveries))
        .order((webhook_attempts::delivery_id.asc(), webhook_attempts::id.desc()))
        .select(AttemptRow::as_select())
        .load(conn)?)
}

/// Forgets deliveries delivered before `before`, with their attempts, a batch at a time (so that
/// no single transaction holds the database long); answers how many. Failed and pending ones stay
/// until they are delivered or their subscription goes: they are what a resumed subscription sends.
pub fn prune_delivered(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, ApiError> {
    const BATCH: i64 = 1000;
    let mut forgotten = 0;
    loop {
        let batch = webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DELIVERED))
            .filter(webhook_deliveries::last_attempt_at.lt(before))
            .select(webhook_deliveries::id)
            .limit(BATCH);
        let ids: Vec<i64> = batch.load(conn)?;
        if ids.is_empty() {
            return Ok(forgotten);
        }
        forgotten +=
            diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids))).execute(conn)?;
        if ids.len() < BATCH as usize {
            return Ok(forgotten);
        }
    }
}

/// One delivery of a subscription, or a 404 naming it.
pub fn delivery(conn: &mut DbConnection, subscription: i64, id: i64) -> Result<DeliveryRow, ApiError> {
    get(conn, subscription)?;
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .select(DeliveryRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("delivery", format!("{id} of webhook {subscription}")))
}

/// Queues a delivery again with its webhook-id and a fresh retry window. It takes its place in
/// cursor order: it goes at once if it is the subscription's oldest undelivered change and the
/// subscription is active, else after those before it, or when the subscription resumes.
pub fn redeliver(conn: &mut DbConnection, subscription: i64, id: i64, at: NaiveDateTime) -> Result<(), ApiError> {
    delivery(conn, subscription, id)?;
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::first_attempt_at.eq(None::<NaiveDateTime>),
            webhook_deliveries::next_attempt_at.eq(at),
        ))
        .execute(conn)?;
    reschedule(conn, subscription)
}

/// Subscriptions with a delivery to send now that no worker holds: active, not waiting for a retry.
pub fn claimable(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> Result<Vec<i64>, ApiError> {
    let pending = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(webhook_subscriptions::id))
        .filter(webhook_deliveries::status.eq(PENDING));
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::status.eq(WebhookStatus::Active.as_str()))
        .filter(
            webhook_subscriptions::lease_until
                .is_null()
                .or(webhook_subscriptions::lease_until.lt(now)),
        )
        .filter(
            webhook_subscriptions::retry_at
                .is_null()
                .or(webhook_subscriptions::retry_at.le(now)),
        )
        .filter(diesel::dsl::exists(pending))
        // Least recently served first (a released lease keeps its time), so that no subscription
        // keeps the workers from the others.
        .order((
            webhook_subscriptions::lease_until.is_not_null(),
            webhook_subscriptions::lease_until.asc(),
            webhook_subscriptions::id.asc(),
        ))
        .select(webhook_subscriptions::id)
        .limit(limit)
        .load(conn)?)
}

/// Takes a subscription for `owner` until `until`, unless another worker holds it: one UPDATE, so
/// that of workers racing for it (on any instance) exactly one wins (Postgres locks the row; SQLite
/// takes its write lock).
pub fn claim(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, ApiError> {
    let claimed = diesel::update(
        webhook_subscriptions::table
            .find(id)
            .filter(webhook_subscriptions::status.eq(WebhookStatus::Active.as_str()))
            .filter(
                webhook_subscriptions::lease_until
                    .is_null()
                    .or(webhook_subscriptions::lease_until.lt(now)),
            ),
    )
    .set((
        webhook_subscriptions::lease_owner.eq(owner),
        webhook_subscriptions::lease_until.eq(until),
    ))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Extends the holder's lease; false when it is no longer the holder (or the subscription was
/// paused or deleted meanwhile).
pub fn renew(conn: &mut DbConnection, id: i64, owner: &str, until: NaiveDateTime) -> Result<bool, ApiError> {
    let renewed = diesel::update(
        webhook_subscriptions::table
            .find(id)
            .filter(webhook_subscriptions::lease_owner.eq(owner))
            .filter(webhook_subscriptions::status.eq(WebhookStatus::Active.as_str())),
    )
    .set(webhook_subscriptions::lease_until.eq(until))
    .execute(conn)?;
    Ok(renewed == 1)
}

/// Gives the subscription back, for any worker to take; the lease's end stays as when it was last
/// served (now), which orders the next search for work.
pub fn release(conn: &mut DbConnection, id: i64, owner: &str, now: NaiveDateTime) -> Result<(), ApiError> {
    diesel::update(
        webhook_subscriptions::table
            .find(id)
            .filter(webhook_subscriptions::lease_owner.eq(owner)),
    )
    .set((
        webhook_subscriptions::lease_owner.eq(None::<String>),
        webhook_subscriptions::lease_until.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// The next delivery of a subscription, ready to send: its oldest pending one (the only one that
/// may go, so that deliveries keep cursor order), when its time has come.
pub struct Due {
    pub delivery: DeliveryRow,
    pub change: AuditRow,
    pub url: String,
    /// The secrets to sign with: the current one, and the previous one during a rotation.
    pub secrets: Vec<String>,
}

pub fn next_due(conn: &mut DbConnection, subscription: i64, now: NaiveDateTime) -> Result<Option<Due>, ApiError> {
    let head = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .filter(webhook_deliveries::status.eq(PENDING))
        .order((webhook_deliveries::change_id.asc(), webhook_deliveries::id.asc()))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?;
    let Some(delivery) = head.filter(|head| head.next_attempt_at <= now) else {
        return Ok(None);
    };
    let change = audit_log::table
        .find(delivery.change_id)
        .select(AuditRow::as_select())
        .get_result(conn)?;
    let (url, secret, previous, previous_until): (String, String, Option<String>, Option<NaiveDateTime>) =
        webhook_subscriptions::table
            .find(subscription)
            .select((
                webhook_subscriptions::url,
                webhook_subscriptions::secret,
                webhook_subscriptions::previous_secret,
                webhook_subscriptions::previous_secret_expires_at,
            ))
            .get_result(conn)?;
    let mut secrets = vec![secret];
    if let (Some(previous), Some(until)) = (previous, previous_until) {
        if until > now {
            secrets.push(previous);
        }
    }
    Ok(Some(Due {
        delivery,
        change,
        url,
        secrets,
    }))
}

/// One attempt, as it went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; tried again at this time.
    RetryAt(NaiveDateTime),
    /// Failed for good (the retry window is over, or the receiver answered 410 Gone): the
    /// subscription is paused as failing, with this reason.
    GiveUp(String),
}

/// Records an attempt and its outcome for the delivery, its subscription's retry time and state.
/// The first statement writes, so that SQLite takes its write lock before reading anything.
pub fn record_attempt(
    conn: &mut DbConnection,
    delivery: &DeliveryRow,
    attempt: &Attempt,
    outcome: &Outcome,
) -> Result<(), ApiError> {
    let record = |conn: &mut DbConnection| -> Result<(), ApiError> {
        let (status, next_attempt_at, delivered_at) = match outcome {
            Outcome::Delivered => (DELIVERED, delivery.next_attempt_at, Some(attempt.at)),
            Outcome::RetryAt(at) => (PENDING, *at, None),
            Outcome::GiveUp(_) => (FAILED, delivery.next_attempt_at, None),
        };
        let updated = diesel::update(
            webhook_deliveries::table
                .find(delivery.id)
                .filter(webhook_deliveries::status.eq(PENDING)),
        )
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::first_attempt_at.eq(delivery.first_attempt_at.unwrap_or(attempt.at)),
            webhook_deliveries::next_attempt_at.eq(next_attempt_at),
            webhook_deliveries::last_attempt_at.eq(attempt.at),
            webhook_deliveries::last_status.eq(attempt.status_code),
            webhook_deliveries::last_error.eq(&attempt.error),
            webhook_deliveries::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
        if updated == 0 {
            // Deleted with its subscription meanwhile, or already settled by another worker.
            return Ok(());
        }
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::delivery_id.eq(delivery.id),
                webhook_attempts::attempted_at.eq(attempt.at),
                webhook_attempts::status_code.eq(attempt.status_code),
                webhook_attempts::error.eq(&attempt.error),
                webhook_attempts::duration_ms.eq(attempt.duration_ms),
            ))
            .execute(conn)?;
        let subscription = webhook_subscriptions::table.find(delivery.subscription_id);
        match outcome {
            Outcome::Delivered => {}
            Outcome::RetryAt(_) => {
                diesel::update(subscription)
                    .set((
                        webhook_subscriptions::last_error.eq(failure(attempt)),
                        webhook_subscriptions::last_error_at.eq(attempt.at),
                    ))
                    .execute(conn)?;
            }
            Outcome::GiveUp(reason) => {
                diesel::update(subscription)
                    .set((
                        webhook_subscriptions::last_error.eq(format!("{reason} ({})", failure(attempt))),
                        webhook_subscriptions::last_error_at.eq(attempt.at),
                    ))
                    .execute(conn)?;
                // An admin's pause stands; an active subscription stops as failing.
                diesel::update(subscription.filter(webhook_subscriptions::status.eq(WebhookStatus::Active.as_str())))
                    .set((
                        webhook_subscriptions::status.eq(WebhookStatus::Failing.as_str()),
                        webhook_subscriptions::updated_at.eq(attempt.at),
                    ))
                    .execute(conn)?;
            }
        }
        reschedule(conn, delivery.subscription_id)
    };
    match outcome {
        // A subscription's status changes under the serialising lock, as an admin's PATCH does,
        // so that neither undoes the other unseen.
        Outcome::GiveUp(_) => super::write::write_transaction(conn, record),
        _ => conn.transaction(record),
    }
}

/// An attempt's failure in words.
fn failure(attempt: &Attempt) -> String {
    match (&attempt.error, attempt.status_code) {
        (Some(error), _) => error.clone(),
        (None, Some(status)) => format!("the receiver answered HTTP {status}"),
        (None, None) => "no answer".into(),
    }
}
