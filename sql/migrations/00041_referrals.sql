-- +goose Up
-- Referrals (campaigns/referral.go): member referrer_member_id brought
-- referred_member_id, once per referred member. A referral is PENDING until the
-- referred member's first order's points leave the return window: then the
-- referral job settles it, paying both sides of a running REFERRAL campaign in
-- the ledger's batch (PAID), or not (VOID: the first order was refunded inside
-- its window; CAPPED, NO_CAMPAIGN, NOT_ELIGIBLE, BUDGET_EXHAUSTED). Recorded
-- under both members' balance row locks, settled under them too.
CREATE TABLE referrals (
    referred_member_id text        PRIMARY KEY,
    referrer_member_id text        NOT NULL,
    request_id         text        NOT NULL,
    fingerprint        bytea       NOT NULL,
    status             text        NOT NULL DEFAULT 'PENDING' CHECK (status IN
        ('PENDING', 'PAID', 'VOID', 'CAPPED', 'NO_CAMPAIGN', 'NOT_ELIGIBLE', 'BUDGET_EXHAUSTED')),
    campaign_id        text        NOT NULL DEFAULT '',
    referrer_points    bigint      NOT NULL DEFAULT 0 CHECK (referrer_points >= 0),
    referred_points    bigint      NOT NULL DEFAULT 0 CHECK (referred_points >= 0),
    referrer_entry_id  bigint,
    referred_entry_id  bigint,
    first_entry_id     bigint,
    actor_key_id       text        NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL,
    settle_time        timestamptz,
    CHECK (referrer_member_id <> referred_member_id),
    CHECK ((status = 'PENDING') = (settle_time IS NULL))
);
-- A repeat of a recording finds it by its request id.
CREATE UNIQUE INDEX referrals_request_idx ON referrals (referrer_member_id, request_id);
-- The list of a referrer's referrals, newest first; the monthly cap counts its PAID ones.
CREATE INDEX referrals_referrer_idx ON referrals (referrer_member_id, create_time DESC, referred_member_id);
-- The job's candidates.
CREATE INDEX referrals_pending_idx ON referrals (create_time) WHERE status = 'PENDING';

-- +goose Down
DROP TABLE referrals;
