-- Goodwill in the write path's batches (see batch.sql and docs/LEDGER.md): a grant
-- by a limited key is decided against the key's usage of the day, an admin's
-- decision against the approval's status. Both rows are locked by the read step
-- AFTER the batch's member rows (usage rows first, then approvals, each in key
-- order), like every other row the write path locks.

-- name: EnsureGoodwillUsageOf :batchexec
-- read: the usage rows of the (key, day)s whose grants the batch decides, created
-- when missing (sorted, so racing creations wait for each other in one order).
-- Queued after the member locks, never before.
INSERT INTO goodwill_usage (key_id, day)
SELECT * FROM (SELECT unnest(@key_ids::text[]) AS key_id, unnest(@days::date[]) AS day) AS u
ON CONFLICT (key_id, day) DO NOTHING;

-- name: LockGoodwillUsageOf :batchmany
-- read: those usage rows, locked in key order: racing grants of one key are decided
-- one batch after the other.
SELECT g.key_id, g.day, g.granted
FROM goodwill_usage g
JOIN (SELECT unnest(@key_ids::text[]) AS key_id, unnest(@days::date[]) AS day) AS k
  ON g.key_id = k.key_id AND g.day = k.day
ORDER BY g.key_id, g.day
FOR UPDATE OF g;

-- name: LockApprovalsOf :batchmany
-- read: the approvals the batch decides, locked in id order.
SELECT * FROM goodwill_approvals
WHERE approval_id = ANY (@approval_ids::bigint[])
ORDER BY approval_id
FOR UPDATE;

-- name: ApprovalsOfRequests :batchmany
-- read: approvals the request ids of the batch's grants already produced (a repeat
-- of a grant that waits, or waited, for an admin).
SELECT sqlc.embed(a)
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@request_ids::text[]) AS request_id) AS k
JOIN goodwill_approvals a ON a.member_id = k.member_id AND a.request_id = k.request_id;

-- name: NextApprovalIDs :batchone
-- read: ids for the approvals the batch may record, so that its answers name them
-- before the write step (as entry, lot and hold ids).
SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('goodwill_approvals', 'approval_id'))
             FROM generate_series(1, @approvals::int))::bigint[] AS approval_ids;

-- name: WriteNewApprovals :batchexec
-- write: grants above their key's limits, waiting for an admin.
INSERT INTO goodwill_approvals (approval_id, member_id, request_id, fingerprint, points, reason_code, ticket_id, note,
                                requested_by, create_time)
OVERRIDING SYSTEM VALUE
SELECT * FROM (SELECT unnest(@approval_ids::bigint[]) AS approval_id,
            unnest(@member_ids::text[]) AS member_id,
            unnest(@request_ids::text[]) AS request_id,
            unnest(@fingerprints::bytea[]) AS fingerprint,
            unnest(@points::bigint[]) AS points,
            unnest(@reason_codes::text[]) AS reason_code,
            unnest(@ticket_ids::text[]) AS ticket_id,
            unnest(@notes::text[]) AS note,
            unnest(@requested_by::text[]) AS requested_by,
            unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: WriteApprovalsDecided :batchexec
-- write: the approvals the batch approved (with the entry it posted) or rejected.
UPDATE goodwill_approvals AS a
SET status = u.status, decided_by = u.decided_by, decide_time = u.decide_time, entry_id = nullif(u.entry_id, 0)
FROM (SELECT unnest(@approval_ids::bigint[]) AS approval_id,
             unnest(@statuses::text[]) AS status,
             unnest(@decided_by::text[]) AS decided_by,
             unnest(@decide_times::timestamptz[]) AS decide_time,
             unnest(@entry_ids::bigint[]) AS entry_id) AS u
WHERE a.approval_id = u.approval_id;

-- name: WriteGoodwillUsage :batchexec
-- write: what each key granted of the day, as the batch leaves it.
UPDATE goodwill_usage AS g SET granted = u.granted
FROM (SELECT unnest(@key_ids::text[]) AS key_id, unnest(@days::date[]) AS day,
             unnest(@granted::bigint[]) AS granted) AS u
WHERE g.key_id = u.key_id AND g.day = u.day;
