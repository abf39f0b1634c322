-- +goose Up

-- Program settings, one immutable row per version; the newest is in force. Earnings
-- read the settings when they are made, so a change applies to new earnings only.
CREATE TABLE program_settings (
    version               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    earn_points           bigint      NOT NULL CHECK (earn_points BETWEEN 1 AND 10000),
    earn_per_amount_minor bigint      NOT NULL CHECK (earn_per_amount_minor BETWEEN 1 AND 1000000000),
    return_window_days    integer     NOT NULL CHECK (return_window_days BETWEEN 0 AND 365),
    expiry_kind           text        NOT NULL CHECK (expiry_kind IN ('END_OF_FOLLOWING_YEAR', 'ROLLING_DAYS')),
    expiry_days           integer     NOT NULL DEFAULT 0 CHECK (expiry_days BETWEEN 0 AND 36500),
    points_per_unit       bigint      NOT NULL CHECK (points_per_unit BETWEEN 1 AND 1000000),
    currency              text        NOT NULL DEFAULT '',
    time_zone             text        NOT NULL DEFAULT 'UTC',
    actor_key_id          text        NOT NULL DEFAULT '',
    update_time           timestamptz NOT NULL DEFAULT now()
);

-- The defaults of a fresh install: 1 point per 100 minor units, a 7-day return
-- window, expiry at the end of the year after the year earned, 100 points = 1 unit.
INSERT INTO program_settings (earn_points, earn_per_amount_minor, return_window_days, expiry_kind, points_per_unit)
VALUES (1, 100, 7, 'END_OF_FOLLOWING_YEAR', 100);

-- An order earns once per member.
CREATE UNIQUE INDEX entries_order_earned_once ON entries (member_id, order_id)
    WHERE kind = 'EARN' AND order_id IS NOT NULL;

-- +goose Down
DROP INDEX entries_order_earned_once;
DROP TABLE program_settings;
