-- name: EnsureGoodwillUsage :exec
INSERT INTO goodwill_usage (key_id, day) VALUES (@key_id, @day)
ON CONFLICT (key_id, day) DO NOTHING;

-- name: LockGoodwillUsage :one
SELECT granted FROM goodwill_usage WHERE key_id = @key_id AND day = @day FOR UPDATE;

-- name: AddGoodwillUsage :exec
UPDATE goodwill_usage SET granted = granted + @points WHERE key_id = @key_id AND day = @day;

-- name: GetGoodwillLimits :one
SELECT * FROM goodwill_limits WHERE key_id = $1;

-- name: SetGoodwillLimits :one
INSERT INTO goodwill_limits (key_id, per_grant, per_day) VALUES (@key_id, @per_grant, @per_day)
ON CONFLICT (key_id) DO UPDATE SET per_grant = excluded.per_grant, per_day = excluded.per_day
RETURNING *;

-- name: InsertApproval :one
INSERT INTO goodwill_approvals (member_id, request_id, fingerprint, points, reason_code, ticket_id, note, requested_by,
                                create_time)
VALUES (@member_id, @request_id, @fingerprint, @points, @reason_code, @ticket_id, @note, @requested_by, @create_time)
RETURNING *;

-- name: ApprovalByRequest :one
SELECT * FROM goodwill_approvals WHERE member_id = $1 AND request_id = $2;

-- name: GetApproval :one
SELECT * FROM goodwill_approvals WHERE approval_id = $1;

-- name: LockApproval :one
SELECT * FROM goodwill_approvals WHERE approval_id = $1 FOR UPDATE;

-- name: DecideApproval :one
UPDATE goodwill_approvals
SET status = @status, decided_by = @decided_by, decide_time = @decide_time::timestamptz, entry_id = sqlc.narg(entry_id)
WHERE approval_id = @approval_id AND status = 'PENDING'
RETURNING *;

-- name: ListApprovals :many
SELECT * FROM goodwill_approvals
WHERE (@status::text = '' OR status = @status::text) AND approval_id < @before_id
ORDER BY approval_id DESC
LIMIT @page_size;
