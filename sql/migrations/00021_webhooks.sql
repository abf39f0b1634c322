-- +goose Up

-- Webhook endpoints: where the events are delivered, signed (Standard Webhooks).
-- The signing secrets must be kept in a form the server can use again, since every
-- delivery is signed with them (a hash, like an API key's, cannot sign): they are
-- stored sealed (AES-256-GCM) with the server secret webhook_secrets
-- (server_secrets), never in the clear. feed_xid and feed_id are the endpoint's
-- position in the events feed: the dispatcher has made deliveries of every event
-- up to it.
CREATE TABLE webhook_endpoints (
    endpoint_id                 text        PRIMARY KEY,
    url                         text        NOT NULL,
    event_types                 text[]      NOT NULL DEFAULT '{}',
    description                 text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    sealed_secret               bytea       NOT NULL,
    sealed_previous_secret      bytea,
    previous_secret_expire_time timestamptz,
    status                      text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DISABLED')),
    disabled_reason             text        NOT NULL DEFAULT '',
    feed_xid                    xid8        NOT NULL,
    feed_id                     bigint      NOT NULL,
    create_time                 timestamptz NOT NULL
);

-- One row per event to deliver to an endpoint (a replay adds rows for events
-- delivered before). A member's deliveries to an endpoint are made in feed order:
-- one is attempted only when no earlier PENDING one of the same member is left.
-- lease_until is how long a dispatcher that claimed the delivery owns it: a
-- dispatcher that dies mid-attempt leaves it to another once the lease is over.
CREATE TABLE webhook_deliveries (
    delivery_id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id        text        NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    event_xid          xid8        NOT NULL,
    event_num          bigint      NOT NULL,
    member_id          text,
    status             text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_time  timestamptz NOT NULL,
    lease_until        timestamptz,
    first_attempt_time timestamptz,
    last_status_code   integer     NOT NULL DEFAULT 0,
    last_latency_ms    bigint      NOT NULL DEFAULT 0,
    last_error         text        NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL,
    deliver_time       timestamptz,
    FOREIGN KEY (event_xid, event_num) REFERENCES events (feed_xid, id)
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, event_xid, event_num) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_member_idx ON webhook_deliveries (endpoint_id, member_id, event_xid, event_num) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, delivery_id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_xid, event_num);
-- Succeeded deliveries are kept for a week (events.DeliveryRetention), then deleted.
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (deliver_time) WHERE status = 'SUCCEEDED';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
