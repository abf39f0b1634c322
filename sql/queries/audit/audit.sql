-- name: InsertRecord :exec
-- The record of a call, written after it. A call whose record its effect's
-- transaction already wrote keeps that one.
INSERT INTO audit_log (call_id, key_id, role, method, target, member_id, request_id, outcome, reason, time)
VALUES (@call_id, @key_id, @role, @method, @target, sqlc.narg(member_id), @request_id, @outcome, @reason, @time)
ON CONFLICT (call_id) DO NOTHING;

-- name: InsertRecordsForEntries :many
-- Queued in the ledger's write batch after its entries, so the records commit with
-- them: the records (outcome OK, the entry's member unless the call named one) of
-- the calls whose entry (entry_member_id,
-- entry_request_id) this very transaction wrote. A call whose entry was refused
-- (overdraft) or written earlier (a racing repeat) gets no row here; its record is
-- written after the call with its real outcome.
INSERT INTO audit_log (call_id, key_id, role, method, target, member_id, request_id, outcome, time)
SELECT DISTINCT ON (r.call_id) r.call_id, r.key_id, r.role, r.method, r.target, coalesce(nullif(r.member_id, ''), r.entry_member_id), r.request_id, 'OK', r.time
FROM (
    SELECT unnest(@call_ids::text[]) AS call_id, unnest(@key_ids::text[]) AS key_id, unnest(@roles::text[]) AS role,
           unnest(@methods::text[]) AS method, unnest(@targets::text[]) AS target, unnest(@member_ids::text[]) AS member_id,
           unnest(@request_ids::text[]) AS request_id, unnest(@times::timestamptz[]) AS time,
           unnest(@entry_member_ids::text[]) AS entry_member_id, unnest(@entry_request_ids::text[]) AS entry_request_id
) AS r
WHERE EXISTS (
    SELECT 1 FROM entries e
    WHERE e.member_id = r.entry_member_id AND e.request_id = r.entry_request_id
      AND e.xmin = pg_current_xact_id()::xid
)
ON CONFLICT (call_id) DO NOTHING
RETURNING call_id;

-- name: InsertRecordsOfEffects :many
-- Queued in the ledger's write batch after rows it writes without an entry (a
-- goodwill grant recorded as an approval, a rejection), so the records (outcome OK)
-- commit with them: the batch queues them only for calls whose effect it writes.
INSERT INTO audit_log (call_id, key_id, role, method, target, member_id, request_id, outcome, time)
SELECT r.call_id, r.key_id, r.role, r.method, r.target, nullif(r.member_id, ''), r.request_id, 'OK', r.time
FROM (
    SELECT unnest(@call_ids::text[]) AS call_id, unnest(@key_ids::text[]) AS key_id, unnest(@roles::text[]) AS role,
           unnest(@methods::text[]) AS method, unnest(@targets::text[]) AS target, unnest(@member_ids::text[]) AS member_id,
           unnest(@request_ids::text[]) AS request_id, unnest(@times::timestamptz[]) AS time
) AS r
ON CONFLICT (call_id) DO NOTHING
RETURNING call_id;

-- name: ListRecords :many
-- Newest first, after the keyset before_id; empty filters match everything.
SELECT * FROM audit_log
WHERE audit_id < @before_id
  AND (@key_id::text = '' OR key_id = @key_id)
  AND (@member_id::text = '' OR member_id = @member_id)
  AND (@method::text = '' OR method = @method)
  AND (sqlc.narg(start_time)::timestamptz IS NULL OR time >= sqlc.narg(start_time))
  AND (sqlc.narg(end_time)::timestamptz IS NULL OR time < sqlc.narg(end_time))
ORDER BY audit_id DESC
LIMIT @page_size;

-- name: RetargetRecord :exec
-- A call that created something, recorded in its transaction before the answer
-- named it, is recorded against what it created.
UPDATE audit_log SET target = @target WHERE call_id = @call_id;
