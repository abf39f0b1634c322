-- +goose Up
-- The monthly coupon allowance (docs/TIERS.md): which campaign's coupon the tiers'
-- monthlyCouponAllowance issues, and one row per member and quota cycle that the
-- allowance job has dealt with. The row's primary key is what makes the issue
-- exactly once per member and cycle, whatever the retries and racing runners.
CREATE TABLE coupon_allowance_settings (
    only_row     boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    campaign_id  text        NOT NULL REFERENCES campaigns (campaign_id),
    actor_key_id text        NOT NULL DEFAULT '',
    update_time  timestamptz NOT NULL
);

CREATE TABLE coupon_allowance_cycles (
    member_id   text        NOT NULL,
    cycle_start timestamptz NOT NULL,
    cycle_end   timestamptz NOT NULL,
    tier_id     text        NOT NULL,
    campaign_id text        NOT NULL,
    -- coupons issued for the cycle: the tier's allowance less what was consumed by
    -- hand before the job came (0 for a tier without the perk).
    coupons     integer     NOT NULL CHECK (coupons >= 0),
    issue_time  timestamptz NOT NULL,
    PRIMARY KEY (member_id, cycle_start)
);

-- The job's look for members due: is there a cycle of this member still running?
CREATE INDEX coupon_allowance_cycles_end_idx ON coupon_allowance_cycles (member_id, cycle_end);

-- +goose Down
DROP TABLE coupon_allowance_cycles;
DROP TABLE coupon_allowance_settings;
