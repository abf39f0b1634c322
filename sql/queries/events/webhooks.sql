-- name: CreateEndpoint :one
-- A new endpoint starts at the end of the feed as it shows now: it is delivered the
-- events that come after.
INSERT INTO webhook_endpoints (endpoint_id, url, event_types, description, sealed_secret, feed_xid, feed_id, create_time)
SELECT sqlc.arg(endpoint_id)::text, sqlc.arg(url)::text, sqlc.arg(event_types)::text[], sqlc.arg(description)::text, sqlc.arg(sealed_secret)::bytea,
       coalesce(last.feed_xid, '0'::xid8), coalesce(last.id, 0), sqlc.arg(create_time)::timestamptz
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT e.feed_xid, e.id FROM events e WHERE e.feed_xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.feed_xid DESC, e.id DESC LIMIT 1
) AS last ON true
RETURNING endpoint_id, url, event_types, description, status, disabled_reason, feed_xid::text AS feed_xid, feed_id,
          previous_secret_expire_time, create_time;

-- name: Endpoints :many
SELECT endpoint_id, url, event_types, description, status, disabled_reason, feed_xid::text AS feed_xid, feed_id,
       previous_secret_expire_time, create_time
FROM webhook_endpoints ORDER BY create_time, endpoint_id;

-- name: Endpoint :one
SELECT endpoint_id, url, event_types, description, status, disabled_reason, feed_xid::text AS feed_xid, feed_id,
       previous_secret_expire_time, create_time
FROM webhook_endpoints WHERE endpoint_id = sqlc.arg(endpoint_id)::text;

-- name: DeleteEndpoint :execrows
DELETE FROM webhook_endpoints WHERE endpoint_id = sqlc.arg(endpoint_id)::text;

-- name: RotateSecret :one
-- The current secret becomes the previous one, which signs along until expire_time.
UPDATE webhook_endpoints
SET sealed_previous_secret = sealed_secret, previous_secret_expire_time = sqlc.arg(expire_time)::timestamptz,
    sealed_secret = sqlc.arg(sealed_secret)::bytea
WHERE endpoint_id = sqlc.arg(endpoint_id)::text
RETURNING endpoint_id, url, event_types, description, status, disabled_reason, feed_xid::text AS feed_xid, feed_id,
          previous_secret_expire_time, create_time;

-- name: ReplayEndpoint :one
-- Moves the endpoint's position back (or forward) and enables it.
UPDATE webhook_endpoints
SET feed_xid = sqlc.arg(feed_xid)::text::xid8, feed_id = sqlc.arg(feed_id)::bigint, status = 'ACTIVE', disabled_reason = ''
WHERE endpoint_id = sqlc.arg(endpoint_id)::text
RETURNING endpoint_id, url, event_types, description, status, disabled_reason, feed_xid::text AS feed_xid, feed_id,
          previous_secret_expire_time, create_time;

-- name: Deliveries :many
-- An endpoint's deliveries, newest first, after a delivery id (0: from the newest).
SELECT d.delivery_id, d.endpoint_id, e.event_id::text AS event_id, e.type AS event_type,
       coalesce(d.member_id, '')::text AS member_id, coalesce(e.member_seq, 0)::bigint AS member_seq,
       d.status, d.attempts, d.last_status_code, d.last_latency_ms, d.last_error, d.next_attempt_time,
       d.create_time, d.deliver_time
FROM webhook_deliveries d JOIN events e ON e.feed_xid = d.event_xid AND e.id = d.event_num
WHERE d.endpoint_id = sqlc.arg(endpoint_id)::text AND (sqlc.arg(before_id)::bigint = 0 OR d.delivery_id < sqlc.arg(before_id)::bigint)
ORDER BY d.delivery_id DESC
LIMIT sqlc.arg(page_size);

-- name: RetryDelivery :one
-- Attempts a delivery again now, with a fresh retry window, and enables its endpoint.
WITH enabled AS (
    UPDATE webhook_endpoints SET status = 'ACTIVE', disabled_reason = '' WHERE endpoint_id = sqlc.arg(endpoint_id)::text
)
UPDATE webhook_deliveries d
SET status = 'PENDING', next_attempt_time = sqlc.arg(now)::timestamptz, lease_until = NULL, first_attempt_time = NULL
WHERE d.endpoint_id = sqlc.arg(endpoint_id)::text AND d.delivery_id = sqlc.arg(delivery_id)::bigint
RETURNING d.delivery_id;

-- name: LockActiveEndpoints :many
-- The active endpoints no other dispatcher is fanning out, locked until commit.
SELECT endpoint_id, event_types, feed_xid::text AS feed_xid, feed_id
FROM webhook_endpoints WHERE status = 'ACTIVE'
ORDER BY endpoint_id
FOR UPDATE SKIP LOCKED;

-- name: InsertDeliveries :exec
INSERT INTO webhook_deliveries (endpoint_id, event_xid, event_num, member_id, next_attempt_time, create_time)
SELECT sqlc.arg(endpoint_id)::text, x::xid8, n, nullif(m, ''), sqlc.arg(now)::timestamptz, sqlc.arg(now)::timestamptz
FROM (SELECT unnest(sqlc.arg(event_xids)::text[]) AS x, unnest(sqlc.arg(event_nums)::bigint[]) AS n, unnest(sqlc.arg(member_ids)::text[]) AS m) AS t;

-- name: MoveEndpoint :exec
UPDATE webhook_endpoints SET feed_xid = sqlc.arg(feed_xid)::text::xid8, feed_id = sqlc.arg(feed_id)::bigint WHERE endpoint_id = sqlc.arg(endpoint_id)::text;

-- name: ClaimDeliveries :many
-- Claims the deliveries due now that are first in line: for each endpoint and
-- member, the earliest (in feed order) PENDING delivery, unless another dispatcher
-- holds its lease. Every later delivery of that member waits for it to succeed.
-- Deliveries of no member are each first in line.
WITH heads AS (
    SELECT d.delivery_id
    FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.endpoint_id = d.endpoint_id
    WHERE d.status = 'PENDING' AND w.status = 'ACTIVE' AND d.next_attempt_time <= sqlc.arg(now)::timestamptz
      AND (d.lease_until IS NULL OR d.lease_until < sqlc.arg(now)::timestamptz)
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries p
          WHERE p.endpoint_id = d.endpoint_id AND p.member_id = d.member_id AND p.status = 'PENDING'
            AND (p.event_xid, p.event_num) < (d.event_xid, d.event_num)
      )
    ORDER BY d.event_xid, d.event_num
    LIMIT sqlc.arg(max_claims)
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET lease_until = sqlc.arg(lease_until)::timestamptz, attempts = d.attempts + 1,
    first_attempt_time = coalesce(d.first_attempt_time, sqlc.arg(now)::timestamptz)
FROM heads, events e, webhook_endpoints w
WHERE d.delivery_id = heads.delivery_id AND e.feed_xid = d.event_xid AND e.id = d.event_num AND w.endpoint_id = d.endpoint_id
RETURNING d.delivery_id, d.endpoint_id, d.attempts, d.first_attempt_time, w.url, w.sealed_secret,
          w.sealed_previous_secret, w.previous_secret_expire_time,
          e.event_id::text AS event_id, e.type AS event_type, e.occur_time,
          -- The body's data: the event's, with its member and number when it has one.
          (CASE WHEN e.member_id IS NULL THEN e.data
                ELSE e.data || jsonb_build_object('memberId', e.member_id, 'memberSeq', e.member_seq) END)::jsonb AS data;

-- name: RecordSuccess :exec
UPDATE webhook_deliveries
SET status = 'SUCCEEDED', deliver_time = sqlc.arg(now)::timestamptz, lease_until = NULL,
    last_status_code = sqlc.arg(status_code)::integer, last_latency_ms = sqlc.arg(latency_ms)::bigint, last_error = ''
WHERE delivery_id = sqlc.arg(delivery_id)::bigint;

-- name: RecordSuccesses :exec
-- RecordSuccess for a dispatcher's round of attempts at once: one statement and one
-- commit for all the deliveries that succeeded in it.
UPDATE webhook_deliveries d
SET status = 'SUCCEEDED', deliver_time = sqlc.arg(now)::timestamptz, lease_until = NULL,
    last_status_code = u.status_code, last_latency_ms = u.latency_ms, last_error = ''
FROM (SELECT unnest(sqlc.arg(delivery_ids)::bigint[]) AS delivery_id, unnest(sqlc.arg(status_codes)::int[]) AS status_code,
             unnest(sqlc.arg(latencies_ms)::bigint[]) AS latency_ms) AS u
WHERE d.delivery_id = u.delivery_id;

-- name: RecordFailure :exec
-- Only a pending delivery: one whose lease ran out may have been delivered by
-- another dispatcher meanwhile, and stays delivered.
UPDATE webhook_deliveries
SET next_attempt_time = sqlc.arg(next_attempt_time)::timestamptz, lease_until = NULL,
    last_status_code = sqlc.arg(status_code)::integer, last_latency_ms = sqlc.arg(latency_ms)::bigint, last_error = sqlc.arg(last_error)::text
WHERE delivery_id = sqlc.arg(delivery_id)::bigint AND status = 'PENDING';

-- name: GiveUpDelivery :exec
UPDATE webhook_deliveries
SET status = 'FAILED', lease_until = NULL,
    last_status_code = sqlc.arg(status_code)::integer, last_latency_ms = sqlc.arg(latency_ms)::bigint, last_error = sqlc.arg(last_error)::text
WHERE delivery_id = sqlc.arg(delivery_id)::bigint AND status = 'PENDING';

-- name: DisableEndpoint :one
-- Disables an active endpoint; no row when it was not active (another dispatcher
-- disabled it first, or it was deleted).
UPDATE webhook_endpoints SET status = 'DISABLED', disabled_reason = sqlc.arg(reason)::text
WHERE endpoint_id = sqlc.arg(endpoint_id)::text AND status = 'ACTIVE'
RETURNING url;

-- name: DeleteOldDeliveries :execrows
-- Forgets up to a thousand deliveries that succeeded before a time.
DELETE FROM webhook_deliveries
WHERE delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE status = 'SUCCEEDED' AND deliver_time < sqlc.arg(before)::timestamptz
    LIMIT 1000
);
