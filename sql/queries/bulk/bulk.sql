-- name: InsertBulkCredit :one
-- Returns no row when the request id was used before.
INSERT INTO bulk_credits (request_id, fingerprint, points, reason, lot_expire_time, target_kind, target_value,
                          campaign_id, status, prepared, chunk_size, actor_key_id, create_time, update_time)
VALUES (@request_id, @fingerprint, @points, @reason, sqlc.narg(lot_expire_time), @target_kind, @target_value,
        sqlc.narg(campaign_id), @status, @prepared, @chunk_size, @actor_key_id, @now, @now)
ON CONFLICT (request_id) DO NOTHING
RETURNING *;

-- name: BulkCreditByRequest :one
SELECT sqlc.embed(b), p.done, p.failed, p.points_credited, p.update_time
FROM bulk_credits b
CROSS JOIN LATERAL (SELECT coalesce(sum(c.done), 0)::bigint AS done, coalesce(sum(c.failed), 0)::bigint AS failed,
                           coalesce(sum(c.points), 0)::bigint AS points_credited, greatest(b.update_time, max(c.commit_time))::timestamptz AS update_time
                    FROM bulk_credit_chunks c WHERE c.bulk_credit_id = b.bulk_credit_id) p
WHERE b.request_id = $1;

-- name: GetBulkCredit :one
-- A bulk credit with its progress: the sums over its committed chunks.
SELECT sqlc.embed(b), p.done, p.failed, p.points_credited, p.update_time
FROM bulk_credits b
CROSS JOIN LATERAL (SELECT coalesce(sum(c.done), 0)::bigint AS done, coalesce(sum(c.failed), 0)::bigint AS failed,
                           coalesce(sum(c.points), 0)::bigint AS points_credited, greatest(b.update_time, max(c.commit_time))::timestamptz AS update_time
                    FROM bulk_credit_chunks c WHERE c.bulk_credit_id = b.bulk_credit_id) p
WHERE b.bulk_credit_id = $1;

-- name: BulkCreditRow :one
-- A bulk credit without its progress (what the job works from).
SELECT * FROM bulk_credits WHERE bulk_credit_id = $1;

-- name: ListBulkCredits :many
-- Newest first, keyset paginated.
SELECT sqlc.embed(b), p.done, p.failed, p.points_credited, p.update_time
FROM bulk_credits b
CROSS JOIN LATERAL (SELECT coalesce(sum(c.done), 0)::bigint AS done, coalesce(sum(c.failed), 0)::bigint AS failed,
                           coalesce(sum(c.points), 0)::bigint AS points_credited, greatest(b.update_time, max(c.commit_time))::timestamptz AS update_time
                    FROM bulk_credit_chunks c WHERE c.bulk_credit_id = b.bulk_credit_id) p
WHERE (sqlc.arg(before_id)::bigint = 0 OR b.bulk_credit_id < sqlc.arg(before_id)::bigint)
ORDER BY b.bulk_credit_id DESC
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
-- The members of a chunk, [from_seq, to_seq).
SELECT seq, member_id, points FROM bulk_credit_members
WHERE bulk_credit_id = @bulk_credit_id AND seq >= @from_seq::bigint AND seq < @to_seq::bigint
ORDER BY seq;

-- name: ChunkRanges :many
-- The seq ranges a bulk credit's committed chunks cover, in seq order.
SELECT from_seq, to_seq FROM bulk_credit_chunks WHERE bulk_credit_id = @bulk_credit_id ORDER BY from_seq;

-- name: ShareBulkCredit :batchone
-- A chunk's lock on its bulk credit, after the members': shared, so that chunks
-- run at once, while a pause or cancel (an update) waits for the chunks in flight
-- and the chunks after it see its status.
SELECT status FROM bulk_credits WHERE bulk_credit_id = @bulk_credit_id FOR SHARE;

-- name: LockBulkCredit :batchone
-- A campaign-funded chunk's lock on its bulk credit, after the members' and the
-- budget's: exclusive, as it may end the bulk credit (BUDGET_EXHAUSTED).
SELECT status FROM bulk_credits WHERE bulk_credit_id = @bulk_credit_id FOR UPDATE;

-- name: ClaimChunk :batchone
-- A chunk's row, inserted with its entries: no row back means another run of the
-- same chunk committed (or is committing: the insert waits for it) first.
INSERT INTO bulk_credit_chunks (bulk_credit_id, from_seq, to_seq, commit_time)
VALUES (@bulk_credit_id, @from_seq, @to_seq, @now)
ON CONFLICT DO NOTHING
RETURNING from_seq;

-- name: RecordChunk :batchexec
-- A chunk's progress, with its entries.
UPDATE bulk_credit_chunks
SET done = @done::bigint, failed = @failed::bigint, points = @points::bigint
WHERE bulk_credit_id = @bulk_credit_id AND from_seq = @from_seq::bigint;

-- name: EndBulkCredit :batchexec
-- A chunk that ends its bulk credit (a campaign's budget ran out), with its
-- entries.
UPDATE bulk_credits
SET status = @status::text, end_time = @now::timestamptz, update_time = @now::timestamptz
WHERE bulk_credit_id = @bulk_credit_id;

-- name: FinishBulkCredit :one
-- A running, listed bulk credit whose chunks cover every member ends: SUCCEEDED.
-- No row: it is not running, or a seq is not covered yet (a chunk in flight when
-- the statement began is not counted: the next run finishes it).
UPDATE bulk_credits b
SET status = 'SUCCEEDED', end_time = @now::timestamptz, update_time = @now::timestamptz
WHERE b.bulk_credit_id = @bulk_credit_id AND b.status = 'RUNNING' AND b.prepared
  AND (SELECT coalesce(sum(c.to_seq - c.from_seq), 0) FROM bulk_credit_chunks c WHERE c.bulk_credit_id = b.bulk_credit_id) >= b.total
RETURNING b.bulk_credit_id;

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
