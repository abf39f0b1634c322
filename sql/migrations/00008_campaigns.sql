-- +goose Up

-- Campaigns: what marketing launches. The counters (spent points, issued coupons,
-- grants) are the budget: a grant raises them with a conditional update of this
-- row, so a budget is never exceeded whatever the concurrency; refunds lower them.
-- Points granted flow from the campaign's own ledger account,
-- system:campaign:<campaign_id>, whose balance is minus the points spent.
CREATE TABLE campaigns (
    campaign_id        text        PRIMARY KEY,
    -- Creation order, for listing.
    seq                bigint      NOT NULL GENERATED ALWAYS AS IDENTITY UNIQUE,
    display_name       text        NOT NULL,
    type               text        NOT NULL CHECK (type IN ('POINTS_MULTIPLIER', 'POINTS_BONUS', 'COUPON_DROP', 'COMPENSATION')),
    -- DRAFT until activated; then SCHEDULED/ACTIVE by the schedule, PAUSED, ENDED.
    status             text        NOT NULL CHECK (status IN ('DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ENDED')),
    -- The schedule as given (local wall times in time_zone) and as instants.
    start_local        text        NOT NULL DEFAULT '',
    end_local          text        NOT NULL DEFAULT '',
    time_zone          text        NOT NULL DEFAULT '',
    start_time         timestamptz,
    end_time           timestamptz,
    eligible_tiers     text[]      NOT NULL DEFAULT '{}',
    rule               text        NOT NULL DEFAULT '',
    -- The type's body: multiplierPercent, bonusPoints, coupon, compensation.
    body               jsonb       NOT NULL,
    budget_points      bigint      CHECK (budget_points > 0),
    budget_coupons     bigint      CHECK (budget_coupons > 0),
    cap_points         bigint      CHECK (cap_points > 0),
    cap_coupons        integer     CHECK (cap_coupons > 0),
    spent_points       bigint      NOT NULL DEFAULT 0 CHECK (spent_points >= 0 AND (budget_points IS NULL OR spent_points <= budget_points)),
    issued_coupons     bigint      NOT NULL DEFAULT 0 CHECK (issued_coupons >= 0 AND (budget_coupons IS NULL OR issued_coupons <= budget_coupons)),
    grants             bigint      NOT NULL DEFAULT 0,
    request_id         text        NOT NULL,
    actor_key_id       text        NOT NULL DEFAULT '',
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    UNIQUE (request_id)
);
CREATE INDEX campaigns_status_idx ON campaigns (status, campaign_id);

-- What each member got from a campaign, for per-member caps.
CREATE TABLE campaign_members (
    campaign_id text    NOT NULL,
    member_id   text    NOT NULL,
    points      bigint  NOT NULL DEFAULT 0 CHECK (points >= 0),
    coupons     integer NOT NULL DEFAULT 0 CHECK (coupons >= 0),
    PRIMARY KEY (campaign_id, member_id)
);

-- Coupons. Codes come from crypto/rand (80 bits, Crockford base32: no I, L, O, U).
CREATE TABLE coupons (
    code              text        PRIMARY KEY,
    member_id         text        NOT NULL,
    campaign_id       text        NOT NULL,
    -- The issue request (a member's coupons are issued once per request id).
    request_id        text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('AMOUNT_OFF', 'PERCENT_OFF', 'FREE_SHIPPING')),
    amount_off_minor  bigint      NOT NULL DEFAULT 0,
    percent_off       integer     NOT NULL DEFAULT 0,
    min_spend_minor   bigint      NOT NULL DEFAULT 0,
    -- ISSUED, REDEEMED or REVOKED; an ISSUED coupon past valid_until is EXPIRED.
    status            text        NOT NULL CHECK (status IN ('ISSUED', 'REDEEMED', 'REVOKED')),
    issue_time        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    redeem_time       timestamptz,
    redeem_order_id   text,
    redeem_request_id text,
    revoke_time       timestamptz,
    -- The after-sales event it compensates, if any.
    event_order_id    text,
    event_type        text,
    UNIQUE (member_id, request_id)
);
CREATE INDEX coupons_member_idx ON coupons (member_id, issue_time DESC);

-- After-sales events, at most one compensation per (member, order, type); the
-- answer is kept, so a repeat (any request id) answers it again.
CREATE TABLE after_sales_events (
    member_id    text        NOT NULL,
    order_id     text        NOT NULL,
    event_type   text        NOT NULL,
    request_id   text        NOT NULL,
    fingerprint  bytea       NOT NULL,
    delay_hours  integer     NOT NULL DEFAULT 0,
    outcome      jsonb       NOT NULL,
    actor_key_id text        NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL,
    PRIMARY KEY (member_id, order_id, event_type),
    UNIQUE (member_id, request_id)
);

-- What campaigns gave on an order's earning, for its refunds: the points of each
-- campaign line (the entry's postings say the same; this is the index by order).
CREATE TABLE campaign_order_grants (
    member_id   text   NOT NULL,
    order_id    text   NOT NULL,
    campaign_id text   NOT NULL,
    points      bigint NOT NULL CHECK (points > 0),
    returned    bigint NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= points),
    PRIMARY KEY (member_id, order_id, campaign_id)
);

-- campaign_take grants what a campaign can still give a member: up to p_points
-- points and p_coupons coupons, less what the member's cap and the campaign's budget
-- leave, under the locks of the member's row and then the campaign's row (always in
-- this order, here and in campaign_give_back). It refuses, granting nothing, when the
-- campaign is not active at p_now (paused or ended meanwhile: caches elsewhere may
-- not know yet), the member's cap is reached, or the budget is exhausted. Grants
-- commit with the caller's transaction, or not at all.
-- +goose StatementBegin
CREATE FUNCTION campaign_take(p_campaign text, p_member text, p_points bigint, p_coupons integer, p_now timestamptz,
                              OUT granted_points bigint, OUT granted_coupons integer, OUT refusal text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    m campaign_members;
    c campaigns;
BEGIN
    granted_points := 0;
    granted_coupons := 0;
    refusal := '';
    INSERT INTO campaign_members (campaign_id, member_id) VALUES (p_campaign, p_member) ON CONFLICT DO NOTHING;
    SELECT * INTO m FROM campaign_members WHERE campaign_id = p_campaign AND member_id = p_member FOR UPDATE;
    SELECT * INTO c FROM campaigns WHERE campaign_id = p_campaign FOR UPDATE;
    IF c.campaign_id IS NULL OR c.status NOT IN ('SCHEDULED', 'ACTIVE')
       OR (c.start_time IS NOT NULL AND p_now < c.start_time) OR (c.end_time IS NOT NULL AND p_now >= c.end_time) THEN
        refusal := 'CAMPAIGN_NOT_ACTIVE';
        RETURN;
    END IF;
    IF (c.cap_points IS NOT NULL AND p_points > 0 AND m.points >= c.cap_points)
       OR (c.cap_coupons IS NOT NULL AND p_coupons > 0 AND m.coupons >= c.cap_coupons) THEN
        refusal := 'MEMBER_CAP_REACHED';
        RETURN;
    END IF;
    IF (c.budget_points IS NOT NULL AND p_points > 0 AND c.spent_points >= c.budget_points)
       OR (c.budget_coupons IS NOT NULL AND p_coupons > 0 AND c.issued_coupons >= c.budget_coupons) THEN
        refusal := 'BUDGET_EXHAUSTED';
        RETURN;
    END IF;
    granted_points := least(p_points, coalesce(c.cap_points - m.points, p_points), coalesce(c.budget_points - c.spent_points, p_points));
    granted_coupons := least(p_coupons, coalesce(c.cap_coupons - m.coupons, p_coupons), coalesce(c.budget_coupons - c.issued_coupons, p_coupons));
    UPDATE campaign_members SET points = points + granted_points, coupons = coupons + granted_coupons
    WHERE campaign_id = p_campaign AND member_id = p_member;
    UPDATE campaigns SET spent_points = spent_points + granted_points, issued_coupons = issued_coupons + granted_coupons,
                         grants = grants + 1
    WHERE campaign_id = p_campaign;
END
$$;
-- +goose StatementEnd

-- campaign_give_back returns points a refund took back to the member's cap and the
-- campaign's budget.
-- +goose StatementBegin
CREATE FUNCTION campaign_give_back(p_campaign text, p_member text, p_points bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE campaign_members SET points = greatest(points - p_points, 0) WHERE campaign_id = p_campaign AND member_id = p_member;
    UPDATE campaigns SET spent_points = greatest(spent_points - p_points, 0) WHERE campaign_id = p_campaign;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION campaign_give_back;
DROP FUNCTION campaign_take;
DROP TABLE campaign_order_grants;
DROP TABLE after_sales_events;
DROP TABLE coupons;
DROP TABLE campaign_members;
DROP TABLE campaigns;
