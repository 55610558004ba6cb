-- Subscriptions to the change feed, pushed to their URLs as signed webhooks (Standard Webhooks).
CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    -- Comma lists of the resources and operations wanted; empty means every one.
    resources TEXT NOT NULL,
    operations TEXT NOT NULL,
    -- Only changes of this plan. No foreign key: the plan's own deletion still reaches it.
    plan_id BIGINT,
    -- active, paused (by an admin) or failing (paused by the service after a day of failures).
    status TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- The secret before the last rotation, also signed with until it expires.
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMP,
    last_error TEXT,
    last_error_at TIMESTAMP,
    -- When the oldest undelivered change may be tried again (deliveries go in cursor order).
    retry_at TIMESTAMP,
    -- Which instance's worker is delivering to it, until when: one at a time, in order.
    lease_owner TEXT,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The outbox: one row per change and subscription, written in the change's own transaction.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    subscription_id BIGINT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    change_id BIGINT NOT NULL REFERENCES audit_log (id),
    -- webhook-id: the same for every attempt, so that receivers can drop duplicates.
    message_id TEXT NOT NULL,
    -- pending, delivered or failed (given up after the retry window).
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_attempt_at TIMESTAMP,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_change ON webhook_deliveries (subscription_id, change_id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (subscription_id, status, change_id);
-- Old settled deliveries are forgotten by age.
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (status, last_attempt_at);

-- Every attempt of a delivery: when, what the receiver answered or what went wrong, how long.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMP NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
