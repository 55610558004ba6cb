//! `/changes`, the public feed other systems sync from, and `/audit`, the admins' full record.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::records::Writer;
use super::{list_response, utc, Collection, OutputParams, PageParams, QueryParams};
use crate::auth::Scope;
use crate::db::write::{self, AuditFilter, AuditRow};
use crate::db::Database;
use crate::error::{ApiError, ListErrors};

/// Most changes one feed request returns.
pub const MAX_CHANGES: i64 = 1000;

/// One change: which record, what happened, and its place in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// Position in the feed: pass the last one you processed as `since`.
    #[schema(example = 1)]
    pub cursor: i64,
    /// `plan`, `goal`, `measure`, `initiative`, `kpi`, `kpi_result` (its `id` is the KPI's),
    /// `project`, `department`, `division` or `evaluation`.
    #[schema(example = "kpi")]
    pub resource: String,
    /// The record's id: GET it (a deleted record answers 404).
    #[schema(example = 43)]
    pub id: i64,
    /// `create`, `update` or `delete`.
    #[schema(example = "update")]
    pub operation: String,
    pub occurred_at: DateTime<Utc>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changes {
    /// Changes after `since`, oldest first.
    pub items: Vec<Change>,
    /// The `since` of the next request: the last cursor here, or `since` when nothing changed.
    #[schema(example = 1)]
    pub next_cursor: i64,
    /// The newest cursor there is: when `next_cursor` reaches it, you are up to date.
    #[schema(example = 1)]
    pub latest_cursor: i64,
}

impl From<AuditRow> for Change {
    fn from(row: AuditRow) -> Self {
        Change {
            cursor: row.id,
            resource: row.resource,
            id: row.record_id,
            operation: row.operation,
            occurred_at: utc(row.occurred_at),
        }
    }
}

/// Parameters of the feed.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// The last cursor already processed; 0 (the default) starts from the beginning.
    #[param(inline)]
    pub since: Option<crate::api::query::documented::Cursor>,
    /// Most changes to return: 1 to 1000, default 1000.
    #[param(inline)]
    pub limit: Option<crate::api::query::documented::ChangeLimit>,
}

/// The change feed: every create, update and delete after a cursor, in commit order.
#[utoipa::path(
    operation_id = "listChanges",
    tag = "changes",
    params(ChangesParams),
    responses((status = 200, description = "Changes after the cursor", body = Changes), ListErrors)
)]
#[get("/changes")]
pub async fn changes(db: web::Data<Database>, request: HttpRequest) -> Result<web::Json<Changes>, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let since = params.bounded("since", 0, i64::MAX)?.unwrap_or(0);
    let limit = params.bounded("limit", 1, MAX_CHANGES)?.unwrap_or(MAX_CHANGES);
    params.finish()?;
    let (rows, latest) = db
        .run(move |conn| Ok((write::changes_since(conn, since, limit)?, write::latest_change(conn)?)))
        .await?;
    let next_cursor = rows.last().map_or(since, |row| row.id);
    Ok(web::Json(Changes {
        items: rows.into_iter().map(Change::from).collect(),
        next_cursor,
        latest_cursor: latest,
    }))
}

/// Where a change stream starts.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// The last cursor already processed (0, the default, starts from the beginning); a
    /// `Last-Event-ID` header, as a reconnecting EventSource sends it, takes its place.
    #[param(inline)]
    pub since: Option<crate::api::query::documented::Cursor>,
}

/// The change feed as it happens (Server-Sent Events): every change after the cursor, then each new
/// one as it commits on any instance, as `id: <cursor>`, `event: change`, `data: <the feed's item>`;
/// a `: heartbeat` comment every `STREAM_HEARTBEAT_SECS` (15) while idle; `event: shutdown` before
/// the server closes it. Reconnect with `Last-Event-ID` to resume without a gap.
#[utoipa::path(
    operation_id = "listChangesLive",
    tag = "changes",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "The cursor of the last event received: resume after it (instead of `since`)", minimum = 0),
    ),
    responses(
        (status = 200, description = "An event stream of changes", content_type = "text/event-stream", body = String),
        (status = 503, response = crate::error::responses::ServiceUnavailable),
        ListErrors,
    )
)]
#[get("/changes/stream")]
pub async fn stream(
    db: web::Data<Database>,
    streams: web::Data<crate::notify::stream::ChangeStreams>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let since = params.bounded("since", 0, i64::MAX)?.unwrap_or(0);
    params.finish()?;
    let since = match request.headers().get("last-event-id") {
        None => since,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .filter(|cursor| *cursor >= 0)
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID", "must be a cursor: a whole number from 0"))?,
    };
    let events = streams.open(db.get_ref().clone(), since)?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        // Each event as it is written: neither compressed nor held by a proxy.
        .insert_header((actix_web::http::header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}

/// One audited write, with the record before and after.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    #[schema(example = 1)]
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The token's subject.
    #[schema(example = "tanaka@city.atsugi.example")]
    pub subject: String,
    /// The token's id (`jti`).
    pub jti: String,
    #[schema(example = "PATCH")]
    pub method: String,
    #[schema(example = "kpi")]
    pub resource: String,
    #[schema(example = 43)]
    pub record_id: i64,
    #[schema(example = "update")]
    pub operation: String,
    /// The record as a GET returned it before the write (null for a create).
    pub before: Option<serde_json::Value>,
    /// The record as a GET returned it after the write (null for a delete).
    pub after: Option<serde_json::Value>,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        let parse = |json: Option<String>| json.and_then(|text| serde_json::from_str(&text).ok());
        AuditRecord {
            id: row.id,
            occurred_at: utc(row.occurred_at),
            subject: row.subject,
            jti: row.jti,
            method: row.method,
            resource: row.resource,
            record_id: row.record_id,
            operation: row.operation,
            before: parse(row.before_json),
            after: parse(row.after_json),
        }
    }
}

/// Filters of the audit record.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only writes of this resource, e.g. `kpi`.
    #[param(example = "kpi", inline)]
    pub resource: Option<crate::api::query::documented::Text>,
    /// Only writes of the record with this id (with `resource`).
    #[param(inline)]
    pub id: Option<crate::api::query::documented::Id>,
    /// Only writes by this token subject.
    #[param(inline)]
    pub subject: Option<crate::api::query::documented::Text>,
    /// Only writes at or after this time (RFC 3339).
    #[param(example = "2026-04-01T00:00:00Z", inline)]
    pub from: Option<crate::api::query::documented::Time>,
    /// Only writes before this time (RFC 3339).
    #[param(example = "2027-04-01T00:00:00Z", inline)]
    pub until: Option<crate::api::query::documented::Time>,
}

/// The audit record (admin): who changed what, when, from what to what.
#[utoipa::path(
    operation_id = "listAuditRecords",
    tag = "changes",
    params(AuditParams, PageParams, OutputParams),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "A page of audited writes, oldest first", content((Collection<AuditRecord> = "application/json"), (String = "text/csv"))),
        (status = 401, response = crate::error::responses::Unauthorized),
        (status = 403, response = crate::error::responses::Forbidden),
        ListErrors,
    )
)]
#[get("/audit")]
pub async fn audit(db: web::Data<Database>, caller: Writer, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    caller.require_every_plan("the audit record")?;
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = AuditFilter {
        resource: params.text("resource")?,
        record_id: params.id("id")?,
        subject: params.text("subject")?,
        from: params.timestamp("from")?,
        until: params.timestamp("until")?,
    };
    let output = params.output(&request)?;
    let page = params.page(write::AUDIT_SORT)?;
    params.finish()?;
    // Authenticated: the conditional-GET middleware marks it `no-store`.
    list_response::<_, AuditRecord, _>(&db, &request, page, output, move |conn, page| {
        write::list_audit(conn, &filter, page)
    })
    .await
}
