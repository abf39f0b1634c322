-- +goose Up
-- An agent's own approvals (ListOwnApprovals), newest first, without reading
-- everyone's.
CREATE INDEX goodwill_approvals_requested_by_idx ON goodwill_approvals (requested_by, approval_id DESC);

-- +goose Down
DROP INDEX goodwill_approvals_requested_by_idx;
