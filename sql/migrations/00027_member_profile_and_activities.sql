-- +goose Up
-- The member profile (ledger.Profile): an optional birthday (month and day, the
-- year optional), the channel the member came from, and a few string attributes.
-- The bounds are checked in Go (ledger.Profile.validate); these are the second
-- line of defence.
ALTER TABLE members
    ADD COLUMN birthday_month smallint CHECK (birthday_month BETWEEN 1 AND 12),
    ADD COLUMN birthday_day   smallint CHECK (birthday_day BETWEEN 1 AND 31),
    ADD COLUMN birthday_year  smallint CHECK (birthday_year BETWEEN 1900 AND 2200),
    ADD COLUMN channel        text  NOT NULL DEFAULT '' CHECK (length(channel) <= 32),
    ADD COLUMN attributes     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object' AND length(attributes::text) <= 8192),
    ADD CONSTRAINT members_birthday_whole CHECK ((birthday_month IS NULL) = (birthday_day IS NULL)
        AND (birthday_year IS NULL OR birthday_month IS NOT NULL));
-- The birthday job finds the day's members by month and day.
CREATE INDEX members_birthday_idx ON members (birthday_month, birthday_day) WHERE birthday_month IS NOT NULL;

-- Activity types are data: the defaults, and those an admin adds.
CREATE TABLE activity_types (
    activity_type text        PRIMARY KEY CHECK (activity_type ~ '^[A-Z][A-Z0-9_]{0,31}$'),
    description   text        NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    create_time   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO activity_types (activity_type, description) VALUES
    ('SHARE', 'shared a product or a page'),
    ('REVIEW', 'reviewed a product'),
    ('REVIEW_WITH_PHOTO', 'reviewed a product with photos'),
    ('CHECK_IN', 'daily check-in'),
    ('PROFILE_COMPLETED', 'completed the profile');

-- Activities a member did, each once: by request id, and by type and activity key
-- (the reviewed order line, the shared page) when there is one. Written only under
-- the member's row lock, in the write path's batch; outcome is the answer a repeat
-- gets.
CREATE TABLE activities (
    member_id     text        NOT NULL,
    request_id    text        NOT NULL,
    activity_type text        NOT NULL,
    activity_key  text        NOT NULL DEFAULT '',
    fingerprint   bytea       NOT NULL,
    occur_time    timestamptz NOT NULL,
    outcome       jsonb       NOT NULL,
    actor_key_id  text        NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL,
    PRIMARY KEY (member_id, request_id)
);
-- A duplicate activity earns once (the second line of defence of the batch's check).
CREATE UNIQUE INDEX activities_key_idx ON activities (member_id, activity_type, activity_key) WHERE activity_key <> '';

-- What each ACTIVITY_REWARD campaign granted a member's activities: the caps count
-- these per day, week and month (in the program's time zone) and per activity key.
CREATE TABLE activity_grants (
    member_id     text        NOT NULL,
    campaign_id   text        NOT NULL,
    activity_type text        NOT NULL,
    activity_key  text        NOT NULL DEFAULT '',
    occur_time    timestamptz NOT NULL,
    points        bigint      NOT NULL CHECK (points > 0),
    entry_id      bigint      NOT NULL
);
CREATE INDEX activity_grants_member_idx ON activity_grants (member_id, campaign_id, occur_time);

ALTER TABLE campaigns DROP CONSTRAINT campaigns_type_check,
    ADD CONSTRAINT campaigns_type_check CHECK (type IN ('POINTS_MULTIPLIER', 'POINTS_BONUS', 'COUPON_DROP', 'COMPENSATION',
        'ACTIVITY_REWARD', 'REFERRAL'));

-- +goose Down
ALTER TABLE campaigns DROP CONSTRAINT campaigns_type_check,
    ADD CONSTRAINT campaigns_type_check CHECK (type IN ('POINTS_MULTIPLIER', 'POINTS_BONUS', 'COUPON_DROP', 'COMPENSATION'));
DROP TABLE activity_grants;
DROP TABLE activities;
DROP TABLE activity_types;
DROP INDEX members_birthday_idx;
ALTER TABLE members DROP CONSTRAINT members_birthday_whole,
    DROP COLUMN attributes, DROP COLUMN channel, DROP COLUMN birthday_year, DROP COLUMN birthday_day, DROP COLUMN birthday_month;
