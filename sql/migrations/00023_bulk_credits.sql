-- +goose Up
-- Bulk credits (docs/BULK.md): points to many members at once, run as a job in
-- chunks. The members are listed first (bulk_credit_members, numbered by seq), then
-- credited chunk by chunk: a chunk's entries, its failures and the job's progress
-- (next_seq, done, failed) commit in one transaction, so a crash loses or repeats
-- nothing; every entry of a bulk credit has the request id system#bulk:<id>, one
-- per member (entries_request_idx), whatever runs a chunk again.
CREATE TABLE bulk_credits (
    bulk_credit_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id      text        NOT NULL UNIQUE,
    fingerprint     bytea       NOT NULL,
    points          bigint      NOT NULL CHECK (points > 0),
    reason          text        NOT NULL,
    lot_expire_time timestamptz,
    -- MEMBERS (listed or uploaded as CSV), TIER, RULE or ALL; target_value is the
    -- tier id or the rule.
    target_kind     text        NOT NULL CHECK (target_kind IN ('MEMBERS', 'TIER', 'RULE', 'ALL')),
    target_value    text        NOT NULL DEFAULT '',
    campaign_id     text,
    -- PREPARING (listing the members), RUNNING, PAUSED, then SUCCEEDED,
    -- CANCELLED or BUDGET_EXHAUSTED (the campaign's budget ran out).
    status          text        NOT NULL CHECK (status IN ('PREPARING', 'RUNNING', 'PAUSED', 'SUCCEEDED', 'CANCELLED', 'BUDGET_EXHAUSTED')),
    -- While preparing: the members listed so far, and the last member id scanned.
    prepare_after   text        NOT NULL DEFAULT '',
    prepared        boolean     NOT NULL DEFAULT false,
    total           bigint      NOT NULL DEFAULT 0,
    next_seq        bigint      NOT NULL DEFAULT 0,
    done            bigint      NOT NULL DEFAULT 0,
    failed          bigint      NOT NULL DEFAULT 0,
    points_credited bigint      NOT NULL DEFAULT 0,
    actor_key_id    text        NOT NULL,
    create_time     timestamptz NOT NULL,
    start_time      timestamptz,
    end_time        timestamptz,
    update_time     timestamptz NOT NULL
);

CREATE INDEX bulk_credits_open_idx ON bulk_credits (bulk_credit_id) WHERE status IN ('PREPARING', 'RUNNING');

-- The members of a bulk credit, in the order they are credited.
CREATE TABLE bulk_credit_members (
    bulk_credit_id bigint NOT NULL REFERENCES bulk_credits,
    seq            bigint NOT NULL,
    member_id      text   NOT NULL,
    points         bigint NOT NULL CHECK (points > 0),
    PRIMARY KEY (bulk_credit_id, seq)
);

-- The members that could not be credited, and why.
CREATE TABLE bulk_credit_failures (
    bulk_credit_id bigint NOT NULL REFERENCES bulk_credits,
    seq            bigint NOT NULL,
    member_id      text   NOT NULL,
    reason         text   NOT NULL,
    message        text   NOT NULL,
    PRIMARY KEY (bulk_credit_id, seq)
);

-- +goose Down
DROP TABLE bulk_credit_failures;
DROP TABLE bulk_credit_members;
DROP TABLE bulk_credits;
