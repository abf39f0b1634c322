-- name: InsertBulkCredit :one
-- Returns no row when the request id was used before.
INSERT INTO bulk_credits (request_id, fingerprint, points, reason, lot_expire_time, target_kind, target_value,
                          campaign_id, status, prepared, actor_key_id, create_time, update_time)
VALUES (@request_id, @fingerprint, @points, @reason, sqlc.narg(lot_expire_time), @target_kind, @target_value,
        sqlc.narg(campaign_id), @status, @prepared, @actor_key_id, @now, @now)
ON CONFLICT (request_id) DO NOTHING
RETURNING *;

-- name: BulkCreditByRequest :one
SELECT * FROM bulk_credits WHERE request_id = $1;

-- name: GetBulkCredit :one
SELECT * FROM bulk_credits WHERE bulk_credit_id = $1;

-- name: ListBulkCredits :many
-- Newest first, keyset paginated.
SELECT * FROM bulk_credits
WHERE (sqlc.arg(before_id)::bigint = 0 OR bulk_credit_id < sqlc.arg(before_id)::bigint)
ORDER BY bulk_credit_id DESC
LIMIT sqlc.arg(max_rows);

-- name: OpenBulkCredits :many
-- The bulk credits the job has something to do for, oldest first.
SELECT bulk_credit_id FROM bulk_credits WHERE status IN ('PREPARING', 'RUNNING') ORDER BY bulk_credit_id;

-- name: InsertBulkMembers :exec
-- Members of a bulk credit, numbered from first_seq in the order given.
INSERT INTO bulk_credit_members (bulk_credit_id, seq, member_id, points)
SELECT @bulk_credit_id, sqlc.arg(first_seq)::bigint + u.ord - 1, u.member_id, u.points
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@points::bigint[]) AS points,
             generate_subscripts(@member_ids::text[], 1) AS ord) AS u;

-- name: ScanMembers :many
-- A page of members after a member id, with their qualified tier (empty: the bottom
-- tier) and the tiers of their active paid memberships: what a TIER or RULE
-- target is judged on.
SELECT m.member_id, m.join_time, coalesce(t.tier_id, '')::text AS tier_id,
       coalesce((SELECT array_agg(ms.tier_id ORDER BY ms.tier_id) FROM memberships ms
                 WHERE ms.member_id = m.member_id AND ms.start_time <= @now::timestamptz AND ms.end_time > @now::timestamptz
                   AND (ms.cancel_time IS NULL OR ms.cancel_time > @now::timestamptz)), '{}')::text[] AS paid_tier_ids
FROM members m
LEFT JOIN member_tiers t ON t.member_id = m.member_id
WHERE m.member_id > @after::text
ORDER BY m.member_id
LIMIT @max_rows;

-- name: ScanMemberIDs :many
-- A page of member ids after a member id (an ALL target).
SELECT member_id FROM members WHERE member_id > @after::text ORDER BY member_id LIMIT @max_rows;

-- name: RecordPrepared :one
-- A page of the listing done: the members found so far and the last id scanned;
-- done, the listing is over and the credits start.
UPDATE bulk_credits
SET total = total + @found::bigint, prepare_after = @after::text, prepared = @done::boolean,
    status = CASE WHEN @done::boolean AND status = 'PREPARING' THEN 'RUNNING' ELSE status END,
    start_time = CASE WHEN @done::boolean THEN @now::timestamptz ELSE start_time END,
    update_time = @now::timestamptz
WHERE bulk_credit_id = @bulk_credit_id AND prepare_after = @expected_after::text AND NOT prepared
RETURNING *;

-- name: ChunkMembers :many
-- The members of the next chunk.
SELECT seq, member_id, points FROM bulk_credit_members
WHERE bulk_credit_id = @bulk_credit_id AND seq >= @from_seq::bigint
ORDER BY seq
LIMIT @max_rows;

-- name: LockBulkCredit :batchone
-- A chunk's lock on its bulk credit, after the members': its status and progress as
-- they stand (the chunk is posted only if they are as the job found them).
SELECT status, next_seq FROM bulk_credits WHERE bulk_credit_id = @bulk_credit_id FOR UPDATE;

-- name: RecordChunk :batchexec
-- A chunk's progress, with its entries.
UPDATE bulk_credits
SET next_seq = @next_seq::bigint, done = done + @done::bigint, failed = failed + @failed::bigint,
    points_credited = points_credited + @points::bigint,
    status = CASE WHEN @finish::text <> '' THEN @finish::text ELSE status END,
    end_time = CASE WHEN @finish::text <> '' THEN @now::timestamptz ELSE end_time END,
    update_time = @now::timestamptz
WHERE bulk_credit_id = @bulk_credit_id;

-- name: RecordFailures :batchexec
-- A chunk's failures, with its entries.
INSERT INTO bulk_credit_failures (bulk_credit_id, seq, member_id, reason, message)
SELECT @bulk_credit_id, u.seq, u.member_id, u.reason, u.message
FROM (SELECT unnest(@seqs::bigint[]) AS seq, unnest(@member_ids::text[]) AS member_id,
             unnest(@reasons::text[]) AS reason, unnest(@messages::text[]) AS message) AS u
ON CONFLICT DO NOTHING;

-- name: SetBulkStatus :one
-- Pause, resume or cancel: from one of the given statuses to another.
UPDATE bulk_credits
SET status = @status::text, update_time = @now::timestamptz,
    end_time = CASE WHEN @status::text IN ('CANCELLED', 'SUCCEEDED') THEN @now::timestamptz ELSE end_time END
WHERE bulk_credit_id = @bulk_credit_id AND status = ANY (@from_statuses::text[])
RETURNING *;

-- name: ListBulkFailures :many
SELECT seq, member_id, reason, message FROM bulk_credit_failures
WHERE bulk_credit_id = @bulk_credit_id AND seq > @after_seq::bigint
ORDER BY seq
LIMIT @max_rows;
