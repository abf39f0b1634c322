-- name: GetGoodwillLimits :one
SELECT * FROM goodwill_limits WHERE key_id = $1;

-- name: SetGoodwillLimits :one
INSERT INTO goodwill_limits (key_id, per_grant, per_day) VALUES (@key_id, @per_grant, @per_day)
ON CONFLICT (key_id) DO UPDATE SET per_grant = excluded.per_grant, per_day = excluded.per_day
RETURNING *;

-- name: GetApproval :one
SELECT * FROM goodwill_approvals WHERE approval_id = $1;

-- name: ListApprovals :many
SELECT * FROM goodwill_approvals
WHERE (@status::text = '' OR status = @status::text) AND approval_id < @before_id
ORDER BY approval_id DESC
LIMIT @page_size;

-- name: ListApprovalsRequestedBy :many
-- One key's approvals (ListOwnApprovals), on goodwill_approvals_requested_by_idx.
SELECT * FROM goodwill_approvals
WHERE requested_by = @requested_by AND (@status::text = '' OR status = @status::text) AND approval_id < @before_id
ORDER BY approval_id DESC
LIMIT @page_size;
