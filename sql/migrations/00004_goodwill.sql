-- +goose Up

-- Goodwill grants record their reason and ticket on the entry itself.
ALTER TABLE entries ADD COLUMN reason_code text, ADD COLUMN ticket_id text;

-- Per-key goodwill limits set by an admin; keys without a row use the defaults
-- (500 points per grant, 2,000 per day).
CREATE TABLE goodwill_limits (
    key_id    text   PRIMARY KEY REFERENCES api_keys (key_id),
    per_grant bigint NOT NULL CHECK (per_grant >= 0),
    per_day   bigint NOT NULL CHECK (per_day >= 0)
);

-- What each limited key granted per (UTC) day. The row is locked while a grant is
-- decided, so racing grants of one agent are decided one after the other.
CREATE TABLE goodwill_usage (
    key_id  text   NOT NULL,
    day     date   NOT NULL,
    granted bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);

-- Grants above an agent's limits wait here for an admin.
CREATE TABLE goodwill_approvals (
    approval_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id     text        NOT NULL,
    request_id    text        NOT NULL,
    fingerprint   bytea       NOT NULL,
    points        bigint      NOT NULL CHECK (points > 0),
    reason_code   text        NOT NULL,
    ticket_id     text        NOT NULL,
    note          text        NOT NULL DEFAULT '',
    requested_by  text        NOT NULL,
    status        text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    decided_by    text,
    decide_time   timestamptz,
    entry_id      bigint,
    create_time   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (member_id, request_id)
);
CREATE INDEX goodwill_approvals_pending_idx ON goodwill_approvals (create_time) WHERE status = 'PENDING';

-- +goose Down
DROP TABLE goodwill_approvals;
DROP TABLE goodwill_usage;
DROP TABLE goodwill_limits;
ALTER TABLE entries DROP COLUMN ticket_id, DROP COLUMN reason_code;
