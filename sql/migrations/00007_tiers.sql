-- +goose Up

-- Tier policies: each change is a new version, like program settings. A fresh
-- install has no row and runs on the default policy (tiers.DefaultPolicy).
CREATE TABLE tier_policies (
    version      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    policy       jsonb       NOT NULL,
    actor_key_id text        NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now()
);

-- The tier a member qualified for and how long it holds. No row: the policy's
-- bottom tier, which never ends. The member's tier shown to the world (effective)
-- is the better of this and any paid membership active now.
CREATE TABLE member_tiers (
    member_id   text        PRIMARY KEY,
    tier_id     text        NOT NULL,
    -- The tier holds at least until then (NULL for the bottom tier).
    period_end  timestamptz,
    -- Set while in grace: the period ended below the threshold, the tier holds
    -- until then to requalify.
    grace_end   timestamptz,
    -- When the downgrade job next has something to do for this member.
    due_time    timestamptz GENERATED ALWAYS AS (coalesce(grace_end, period_end)) STORED,
    update_time timestamptz NOT NULL
);
CREATE INDEX member_tiers_due_idx ON member_tiers (due_time) WHERE due_time IS NOT NULL;

-- The qualifying metric. Every change to it is a move, written with the entry
-- that caused it (or the refund, which may post no entry): qualifying points and
-- spend, on the UTC day of the original earning, so that a refund lowers the very
-- day that earned and the rolling window slides correctly. tier_metric_days sums
-- the moves per member and day (checked by verify), so the metric over a window
-- is at most one row per day.
CREATE TABLE tier_metric_moves (
    move_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id   text        NOT NULL,
    entry_id    bigint,
    order_id    text,
    day         date        NOT NULL,
    points      bigint      NOT NULL,
    spend_minor bigint      NOT NULL,
    create_time timestamptz NOT NULL
);
CREATE INDEX tier_metric_moves_entry_idx ON tier_metric_moves (entry_id) WHERE entry_id IS NOT NULL;

CREATE TABLE tier_metric_days (
    member_id   text   NOT NULL,
    day         date   NOT NULL,
    points      bigint NOT NULL,
    spend_minor bigint NOT NULL,
    PRIMARY KEY (member_id, day)
);

-- Every change of a member's tier, with its reason.
CREATE TABLE tier_history (
    change_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id      text        NOT NULL,
    from_tier      text        NOT NULL,
    to_tier        text        NOT NULL,
    reason         text        NOT NULL,
    metric         bigint      NOT NULL DEFAULT 0,
    period_end     timestamptz,
    grace_end      timestamptz,
    membership_id  bigint,
    policy_version bigint      NOT NULL DEFAULT 0,
    create_time    timestamptz NOT NULL
);
CREATE INDEX tier_history_member_idx ON tier_history (member_id, change_id);

-- Paid memberships: a tier for a period, bought.
CREATE TABLE memberships (
    membership_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id     text        NOT NULL,
    request_id    text        NOT NULL,
    fingerprint   bytea       NOT NULL,
    tier_id       text        NOT NULL,
    start_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL CHECK (end_time > start_time),
    cancel_time   timestamptz,
    order_id      text,
    actor_key_id  text        NOT NULL DEFAULT '',
    -- Its end (or cancellation) is in the tier history.
    ended         boolean     NOT NULL DEFAULT false,
    create_time   timestamptz NOT NULL,
    UNIQUE (member_id, request_id)
);
CREATE INDEX memberships_member_idx ON memberships (member_id, end_time);
CREATE INDEX memberships_ending_idx ON memberships (end_time) WHERE NOT ended;

-- Quota perks: what a member used in a cycle, and each use, once per request.
CREATE TABLE entitlement_cycles (
    member_id   text        NOT NULL,
    perk        text        NOT NULL,
    cycle_start timestamptz NOT NULL,
    used        integer     NOT NULL CHECK (used >= 0),
    PRIMARY KEY (member_id, perk, cycle_start)
);

CREATE TABLE entitlement_uses (
    member_id    text        NOT NULL,
    perk         text        NOT NULL,
    request_id   text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    order_id     text,
    tier_id      text        NOT NULL,
    quota        integer     NOT NULL,
    used_after   integer     NOT NULL,
    cycle_start  timestamptz NOT NULL,
    cycle_end    timestamptz NOT NULL,
    actor_key_id text        NOT NULL DEFAULT '',
    use_time     timestamptz NOT NULL,
    PRIMARY KEY (member_id, perk, request_id)
);

-- The member's tier and perks when the order earned, for its refunds; and what the
-- earning added to the qualifying metric, and what refunds took off it so far.
ALTER TABLE orders
    ADD COLUMN tier_id             text,
    ADD COLUMN perks               jsonb,
    ADD COLUMN metric_points       bigint NOT NULL DEFAULT 0,
    ADD COLUMN metric_spend        bigint NOT NULL DEFAULT 0,
    ADD COLUMN metric_day          date,
    ADD COLUMN metric_points_taken bigint NOT NULL DEFAULT 0,
    ADD COLUMN metric_spend_taken  bigint NOT NULL DEFAULT 0;

-- The tier is the tiers' business now (member_tiers and memberships).
ALTER TABLE members DROP COLUMN tier_id;

-- tier_qualify records a move of the member's qualifying metric and, when the move
-- is a gain, upgrades the member at once to the highest tier the metric over the
-- rolling window reaches (never down: downgrades wait for the end of the period,
-- see tiers.Evaluate, of which this is the upgrade branch). It is called by the
-- ledger's write statement once the member's balance row is locked, so earnings of
-- one member qualify one after the other and, the function being VOLATILE, each of
-- its queries sees the ones before. The policy comes as arguments: tier ids and
-- thresholds in ascending order, the metric, the window's first day, and the end
-- of the period an upgrade starts.
-- +goose StatementBegin
CREATE FUNCTION tier_qualify(p_member text, p_entry bigint, p_order text, p_day date, p_points bigint,
                             p_spend bigint, p_metric text, p_window_start date, p_ids text[],
                             p_thresholds bigint[], p_period_end timestamptz, p_now timestamptz,
                             p_version bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_metric      bigint;
    v_reached     int;
    v_current     text;
    v_current_idx int;
BEGIN
    INSERT INTO tier_metric_moves (member_id, entry_id, order_id, day, points, spend_minor, create_time)
    VALUES (p_member, p_entry, p_order, p_day, p_points, p_spend, p_now);
    INSERT INTO tier_metric_days AS d (member_id, day, points, spend_minor)
    VALUES (p_member, p_day, p_points, p_spend)
    ON CONFLICT (member_id, day) DO UPDATE
        SET points = d.points + excluded.points, spend_minor = d.spend_minor + excluded.spend_minor;
    IF (p_points <= 0 AND p_spend <= 0) OR cardinality(p_ids) = 0 THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(CASE WHEN p_metric = 'QUALIFYING_SPEND' THEN d.spend_minor ELSE d.points END), 0)
    INTO v_metric
    FROM tier_metric_days d
    WHERE d.member_id = p_member AND d.day >= p_window_start;
    SELECT max(i) INTO v_reached FROM generate_subscripts(p_thresholds, 1) AS i WHERE p_thresholds[i] <= v_metric;
    SELECT t.tier_id INTO v_current FROM member_tiers t WHERE t.member_id = p_member;
    -- A tier the policy no longer has counts as the bottom one (as in Evaluate).
    v_current_idx := coalesce(array_position(p_ids, v_current), 1);
    IF v_reached IS NULL OR v_reached <= v_current_idx THEN
        RETURN NULL;
    END IF;
    INSERT INTO member_tiers AS t (member_id, tier_id, period_end, grace_end, update_time)
    VALUES (p_member, p_ids[v_reached], p_period_end, NULL, p_now)
    ON CONFLICT (member_id) DO UPDATE
        SET tier_id = excluded.tier_id, period_end = excluded.period_end, grace_end = NULL,
            update_time = excluded.update_time;
    INSERT INTO tier_history (member_id, from_tier, to_tier, reason, metric, period_end, policy_version, create_time)
    VALUES (p_member, coalesce(v_current, p_ids[1]), p_ids[v_reached], 'UPGRADE', v_metric, p_period_end, p_version, p_now);
    RETURN p_ids[v_reached];
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION tier_qualify;
ALTER TABLE members ADD COLUMN tier_id text NOT NULL DEFAULT 'member';
ALTER TABLE orders
    DROP COLUMN tier_id, DROP COLUMN perks, DROP COLUMN metric_points, DROP COLUMN metric_spend,
    DROP COLUMN metric_day, DROP COLUMN metric_points_taken, DROP COLUMN metric_spend_taken;
DROP TABLE entitlement_uses;
DROP TABLE entitlement_cycles;
DROP TABLE memberships;
DROP TABLE tier_history;
DROP TABLE tier_metric_days;
DROP TABLE tier_metric_moves;
DROP TABLE member_tiers;
DROP TABLE tier_policies;
