-- +goose Up

-- The campaigns' rules leave the database too: coupon drops, compensations and
-- give-backs read the budget slices and the member's use under lock, apply the one
-- budget and cap rule in Go (campaigns/budgets.go: take, giveBack) and write them
-- back, as earnings already do. The CHECKs on the slices stay: a slice never holds
-- less than zero or more than its budget, whatever the code does.
DROP FUNCTION campaign_take(text, text, bigint, integer, timestamptz, text);
DROP FUNCTION campaign_give_back(text, text, bigint);
DROP FUNCTION campaign_give_back_slices(text, text, bigint, bigint);

-- +goose Down
-- The functions as 00009 left them, for a binary of before.
-- +goose StatementBegin
CREATE FUNCTION campaign_take(p_campaign text, p_member text, p_points bigint, p_coupons integer, p_now timestamptz,
                              p_order text, OUT granted_points bigint, OUT granted_coupons integer, OUT refusal text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    m        campaign_members;
    c        campaigns;
    sl       campaign_budget_slices;
    v_slices int;
    v_start  int;
    v_want_p bigint;
    v_want_c integer;
    v_p      bigint;
    v_c      integer;
    v_first  boolean := true;
BEGIN
    granted_points := 0;
    granted_coupons := 0;
    refusal := '';
    SELECT * INTO c FROM campaigns WHERE campaign_id = p_campaign;
    IF c.campaign_id IS NULL OR c.status NOT IN ('SCHEDULED', 'ACTIVE')
       OR (c.start_time IS NOT NULL AND p_now < c.start_time) OR (c.end_time IS NOT NULL AND p_now >= c.end_time) THEN
        refusal := 'CAMPAIGN_NOT_ACTIVE';
        RETURN;
    END IF;
    INSERT INTO campaign_members (campaign_id, member_id) VALUES (p_campaign, p_member) ON CONFLICT DO NOTHING;
    SELECT * INTO m FROM campaign_members WHERE campaign_id = p_campaign AND member_id = p_member FOR UPDATE;
    IF (c.cap_points IS NOT NULL AND p_points > 0 AND m.points >= c.cap_points)
       OR (c.cap_coupons IS NOT NULL AND p_coupons > 0 AND m.coupons >= c.cap_coupons) THEN
        refusal := 'MEMBER_CAP_REACHED';
        RETURN;
    END IF;
    v_want_p := least(p_points, coalesce(c.cap_points - m.points, p_points));
    v_want_c := least(p_coupons, coalesce(c.cap_coupons - m.coupons, p_coupons));
    SELECT count(*) INTO v_slices FROM campaign_budget_slices WHERE campaign_id = p_campaign;
    v_start := abs(hashtext(p_member)) % greatest(v_slices, 1);
    FOR i IN 0 .. v_slices - 1 LOOP
        EXIT WHEN granted_points >= v_want_p AND granted_coupons >= v_want_c;
        -- A look without a lock first: a dry slice is passed over without waiting.
        SELECT * INTO sl FROM campaign_budget_slices WHERE campaign_id = p_campaign AND slice = (v_start + i) % v_slices;
        CONTINUE WHEN NOT ((granted_points < v_want_p AND (sl.budget_points IS NULL OR sl.spent_points < sl.budget_points))
                        OR (granted_coupons < v_want_c AND (sl.budget_coupons IS NULL OR sl.issued_coupons < sl.budget_coupons)));
        SELECT * INTO sl FROM campaign_budget_slices WHERE campaign_id = p_campaign AND slice = (v_start + i) % v_slices FOR UPDATE;
        v_p := least(v_want_p - granted_points, coalesce(sl.budget_points - sl.spent_points, v_want_p - granted_points));
        v_c := least(v_want_c - granted_coupons, coalesce(sl.budget_coupons - sl.issued_coupons, v_want_c - granted_coupons));
        CONTINUE WHEN v_p <= 0 AND v_c <= 0;
        v_p := greatest(v_p, 0);
        v_c := greatest(v_c, 0);
        UPDATE campaign_budget_slices
        SET spent_points = spent_points + v_p, issued_coupons = issued_coupons + v_c,
            grants = grants + CASE WHEN v_first THEN 1 ELSE 0 END
        WHERE campaign_id = p_campaign AND slice = sl.slice;
        v_first := false;
        granted_points := granted_points + v_p;
        granted_coupons := granted_coupons + v_c;
    END LOOP;
    IF granted_points = 0 AND granted_coupons = 0 THEN
        refusal := 'BUDGET_EXHAUSTED';
        RETURN;
    END IF;
    UPDATE campaign_members SET points = points + granted_points, coupons = coupons + granted_coupons
    WHERE campaign_id = p_campaign AND member_id = p_member;
    -- What an order's earning got, for its refunds.
    IF p_order <> '' AND granted_points > 0 THEN
        -- A repeat of the earning's request finds the first one's row: its own
        -- transaction fails on the request's key and rolls back.
        INSERT INTO campaign_order_grants (member_id, order_id, campaign_id, points)
        VALUES (p_member, p_order, p_campaign, granted_points)
        ON CONFLICT DO NOTHING;
    END IF;
END
$$;
-- +goose StatementEnd

-- campaign_give_back_slices returns points and coupons to a campaign's slices,
-- starting with the member's own.
-- +goose StatementBegin
CREATE FUNCTION campaign_give_back_slices(p_campaign text, p_member text, p_points bigint, p_coupons bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sl       campaign_budget_slices;
    v_slices int;
    v_start  int;
    v_p      bigint;
    v_c      bigint;
BEGIN
    SELECT count(*) INTO v_slices FROM campaign_budget_slices WHERE campaign_id = p_campaign;
    v_start := abs(hashtext(p_member)) % greatest(v_slices, 1);
    FOR i IN 0 .. v_slices - 1 LOOP
        EXIT WHEN p_points <= 0 AND p_coupons <= 0;
        SELECT * INTO sl FROM campaign_budget_slices WHERE campaign_id = p_campaign AND slice = (v_start + i) % v_slices FOR UPDATE;
        v_p := least(p_points, sl.spent_points);
        v_c := least(p_coupons, sl.issued_coupons);
        CONTINUE WHEN v_p <= 0 AND v_c <= 0;
        UPDATE campaign_budget_slices SET spent_points = spent_points - v_p, issued_coupons = issued_coupons - v_c
        WHERE campaign_id = p_campaign AND slice = sl.slice;
        p_points := p_points - v_p;
        p_coupons := p_coupons - v_c;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- campaign_give_back returns points a refund took back to the member's cap and the
-- campaign's budget.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION campaign_give_back(p_campaign text, p_member text, p_points bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE campaign_members SET points = greatest(points - p_points, 0) WHERE campaign_id = p_campaign AND member_id = p_member;
    PERFORM campaign_give_back_slices(p_campaign, p_member, p_points, 0);
END
$$;
-- +goose StatementEnd
