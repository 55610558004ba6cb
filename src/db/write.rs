//! What every write shares: the serialising transaction, the audit record, revocation, the change feed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_tokens, audit_log, data_version};
use super::{DbConnection, Listing, Page};
use crate::error::ApiError;

/// Runs `work` in a transaction whose first statement bumps the data version. That row lock
/// serialises writers on both backends: on SQLite the write lock is taken before anything is read
/// (no busy-snapshot failures; other processes' writers wait on the busy timeout, this one's take
/// turns in `Database::write`), on Postgres every writer
/// queues on the row. So a precondition checked inside `work` still holds when it commits, and
/// audit ids are assigned in commit order, which makes them the change feed's cursor (never
/// reordered; the public feed skips the ids of webhook subscriptions' own changes).
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    conn.transaction(|conn| {
        diesel::update(data_version::table)
            .set((
                data_version::version.eq(data_version::version + 1),
                data_version::changed_at.eq(super::now()),
            ))
            .execute(conn)?;
        work(conn)
    })
}

/// Which state the data is in: every write (on any instance) bumps `version` and stamps `changed_at`
/// in its own transaction, so a response built at one version stays exact while the version holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct DataVersion {
    pub version: i64,
    pub changed_at: NaiveDateTime,
}

/// The current data version.
pub fn data_version(conn: &mut DbConnection) -> Result<DataVersion, ApiError> {
    // `get_result`, not `first`: SQLite re-prepares a statement with a bound LIMIT on every run.
    Ok(data_version::table
        .select((data_version::version, data_version::changed_at))
        .get_result(conn)?)
}

/// One audited write.
pub struct AuditEntry<'a> {
    pub subject: &'a str,
    pub jti: &'a str,
    pub method: &'a str,
    pub resource: &'a str,
    pub record_id: i64,
    pub operation: Operation,
    pub before: Option<String>,
    pub after: Option<String>,
}

super::sortable!(
    AUDIT_SORT,
    sort_audit,
    audit_log,
    [id, occurred_at, subject, resource, record_id, operation]
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// Records one write in its own transaction, and with it the webhook deliveries it causes (the
/// outbox): a write that rolls back leaves neither.
pub fn audit(conn: &mut DbConnection, entry: AuditEntry, at: NaiveDateTime) -> Result<(), ApiError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::occurred_at.eq(at),
            audit_log::subject.eq(entry.subject),
            audit_log::jti.eq(entry.jti),
            audit_log::method.eq(entry.method),
            audit_log::resource.eq(entry.resource),
            audit_log::record_id.eq(entry.record_id),
            audit_log::operation.eq(entry.operation.as_str()),
            audit_log::before_json.eq(&entry.before),
            audit_log::after_json.eq(&entry.after),
        ))
        .execute(conn)?;
    if entry.resource != super::webhooks::RESOURCE {
        super::webhooks::enqueue(conn, &entry, at)?;
    }
    Ok(())
}

/// The plan a change belongs to, from its record's representation (for a delete, the last one):
/// a plan is its own, a result its KPI's; None when the record is of no plan.
pub fn plan_of_change(
    conn: &mut DbConnection,
    resource: &str,
    record_id: i64,
    record: Option<&str>,
) -> Result<Option<i64>, ApiError> {
    use super::schema::kpis;
    match resource {
        "plan" => return Ok(Some(record_id)),
        // A result's record id is its KPI's.
        super::results::RESULT_RESOURCE => {
            return Ok(kpis::table
                .find(record_id)
                .select(kpis::plan_id)
                .first(conn)
                .optional()?)
        }
        // A subscription may name a plan, but belongs to none.
        super::webhooks::RESOURCE => return Ok(None),
        _ => {}
    }
    let record: serde_json::Value = record
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    Ok(record["plan_id"].as_i64())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub subject: String,
    pub jti: String,
    pub method: String,
    pub resource: String,
    pub record_id: i64,
    pub operation: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
}

#[derive(Debug, Default)]
pub struct AuditFilter {
    pub resource: Option<String>,
    pub record_id: Option<i64>,
    pub subject: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn filtered_audit(filter: &AuditFilter) -> audit_log::BoxedQuery<'static, super::Db> {
    let mut query = audit_log::table.into_boxed();
    if let Some(resource) = &filter.resource {
        query = query.filter(audit_log::resource.eq(resource.clone()));
    }
    if let Some(id) = filter.record_id {
        query = query.filter(audit_log::record_id.eq(id));
    }
    if let Some(subject) = &filter.subject {
        query = query.filter(audit_log::subject.eq(subject.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::occurred_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::occurred_at.lt(until));
    }
    query
}

pub fn list_audit(conn: &mut DbConnection, filter: &AuditFilter, page: Page) -> Result<Listing<AuditRow>, ApiError> {
    Ok(super::load_page!(
        conn,
        filtered_audit(filter),
        AuditRow,
        sort_audit,
        page
    ))
}

/// The public change feed: what changed after `since`, oldest first, without who changed it, and
/// without the changes of webhook subscriptions (the service's own settings, not its data).
pub fn changes_since(conn: &mut DbConnection, since: i64, limit: i64) -> Result<Vec<AuditRow>, ApiError> {
    Ok(audit_log::table
        .filter(audit_log::id.gt(since))
        .filter(audit_log::resource.ne(super::webhooks::RESOURCE))
        .order(audit_log::id)
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// The newest cursor of the feed (0 when nothing has changed yet).
pub fn latest_change(conn: &mut DbConnection) -> Result<i64, ApiError> {
    Ok(audit_log::table
        .filter(audit_log::resource.ne(super::webhooks::RESOURCE))
        .select(diesel::dsl::max(audit_log::id))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// Whether a token is revoked: by its issuer and id, or by its id alone (a revocation from before
/// issuers were recorded, or one made for every issuer).
pub fn is_revoked(conn: &mut DbConnection, issuer: &str, jti: &str) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        api_tokens::table
            .filter(api_tokens::jti.eq(jti))
            .filter(api_tokens::issuer.eq(issuer).or(api_tokens::issuer.eq("")))
            .filter(api_tokens::revoked_at.is_not_null()),
    ))
    .get_result(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub issuer: String,
    pub jti: String,
    pub subject: String,
    pub scopes: String,
    pub department_id: Option<i64>,
    pub plan: Option<String>,
    pub issued_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn record_issued_token(conn: &mut DbConnection, token: &TokenRow) -> Result<(), ApiError> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::issuer.eq(&token.issuer),
            api_tokens::jti.eq(&token.jti),
            api_tokens::subject.eq(&token.subject),
            api_tokens::scopes.eq(&token.scopes),
            api_tokens::department_id.eq(token.department_id),
            api_tokens::plan.eq(&token.plan),
            api_tokens::issued_at.eq(token.issued_at),
            api_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Revokes a token id of one issuer, or with the issuer `""` of every issuer; also an id this
/// service never issued (a token of the identity provider). Returns false when it was already revoked.
pub fn revoke_token(conn: &mut DbConnection, issuer: &str, jti: &str, at: NaiveDateTime) -> Result<bool, ApiError> {
    conn.transaction(|conn| {
        if is_revoked(conn, issuer, jti)? {
            return Ok(false);
        }
        // Rows of issued tokens this names are marked, so that `token list` shows them revoked.
        let revoked = api_tokens::revoked_at.eq(at);
        if issuer.is_empty() {
            diesel::update(api_tokens::table.filter(api_tokens::jti.eq(jti)))
                .set(revoked)
                .execute(conn)?;
        } else {
            diesel::update(api_tokens::table.find((issuer, jti)))
                .set(revoked)
                .execute(conn)?;
        }
        let recorded = api_tokens::table
            .find((issuer, jti))
            .select(api_tokens::jti)
            .first::<String>(conn)
            .optional()?;
        if recorded.is_none() {
            diesel::insert_into(api_tokens::table)
                .values((
                    api_tokens::issuer.eq(issuer),
                    api_tokens::jti.eq(jti),
                    api_tokens::subject.eq(""),
                    api_tokens::scopes.eq(""),
                    api_tokens::revoked_at.eq(at),
                ))
                .execute(conn)?;
        }
        Ok(true)
    })
}

pub fn list_tokens(conn: &mut DbConnection) -> Result<Vec<TokenRow>, ApiError> {
    Ok(api_tokens::table
        .order((
            api_tokens::issued_at.asc(),
            api_tokens::jti.asc(),
            api_tokens::issuer.asc(),
        ))
        .select(TokenRow::as_select())
        .load(conn)?)
}
