-- +goose Up
-- Events that need a memory (docs/EVENTS.md). Reminders: points.expiring, the given number of days before a
-- member's points expire, and tier.downgrade_due, before a tier period ends with
-- the member not on track to keep the tier. Each is sent once per member, date and
-- reminder day: these tables remember which were.
ALTER TABLE program_settings
    ADD COLUMN expiry_reminder_days integer[] NOT NULL DEFAULT '{30,7}',
    ADD CONSTRAINT program_settings_expiry_reminder_days_listed CHECK (cardinality(expiry_reminder_days) <= 5);

CREATE TABLE expiry_reminders (
    member_id   text        NOT NULL,
    expire_time timestamptz NOT NULL,
    days_before integer     NOT NULL,
    points      bigint      NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (member_id, expire_time, days_before)
);

CREATE TABLE downgrade_reminders (
    member_id   text        NOT NULL,
    period_end  timestamptz NOT NULL,
    days_before integer     NOT NULL,
    tier_id     text        NOT NULL,
    keep_needed bigint      NOT NULL,
    create_time timestamptz NOT NULL,
    PRIMARY KEY (member_id, period_end, days_before)
);

-- When a campaign's budget ran out (campaign.budget_exhausted is written once).
ALTER TABLE campaigns ADD COLUMN budget_exhausted_time timestamptz;

-- When a coupon's expiry was told (coupon.expired: its status turns EXPIRED when
-- read, with no write of its own to carry the event).
ALTER TABLE coupons ADD COLUMN expiry_told_time timestamptz;
CREATE INDEX coupons_expiring_idx ON coupons (valid_until) WHERE status = 'ISSUED' AND expiry_told_time IS NULL;

-- +goose Down
DROP INDEX coupons_expiring_idx;
ALTER TABLE coupons DROP COLUMN expiry_told_time;
ALTER TABLE campaigns DROP COLUMN budget_exhausted_time;
DROP TABLE downgrade_reminders;
DROP TABLE expiry_reminders;
ALTER TABLE program_settings DROP COLUMN expiry_reminder_days;
