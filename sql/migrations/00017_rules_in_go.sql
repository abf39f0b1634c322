-- +goose Up

-- The ledger's rules leave the database: the write path reads under its locks,
-- applies every rule in Go (ledger/apply.go) and writes set-based statements
-- (sql/queries/ledger/batch.sql). What the database keeps enforcing by itself stays:
-- the sum-zero CHECK on entries, their immutability, the unique indexes (one
-- result per request id, one earning per order, one reversal per entry), the
-- CHECKs on lots, balances, budgets and caps.
DROP FUNCTION tier_part(boolean, text, timestamptz, text[], integer[], bigint, boolean);
DROP FUNCTION tier_qualify(text, bigint, text, date, bigint, bigint, text, date, text[], bigint[], timestamptz, timestamptz, bigint);
DROP FUNCTION ledger_settle_lots(text, bigint, bigint, bigint, timestamptz, bigint, bigint, bigint[], timestamptz);

-- +goose Down
-- The functions as the earlier migrations left them, for a binary of before.
-- +goose StatementBegin
CREATE FUNCTION ledger_settle_lots(p_member text, p_entry bigint, p_delta bigint, p_available_after bigint,
                                   p_expire timestamptz, p_origin bigint, p_prefer bigint, p_restore bigint[],
                                   p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_amount bigint;
    v_left   bigint;
    v_take   bigint;
    r        record;
BEGIN
    IF p_delta > 0 THEN
        v_amount := least(p_delta, greatest(p_available_after, 0));
        v_left := v_amount;
        IF v_left > 0 AND cardinality(p_restore) > 0 THEN
            FOR r IN
                SELECT m.lot_id, m.source_entry_id, -sum(m.points) AS restorable
                FROM lot_moves m
                JOIN lots l ON l.lot_id = m.lot_id
                WHERE m.member_id = p_member AND m.source_entry_id = ANY (p_restore)
                GROUP BY m.lot_id, m.source_entry_id, l.expire_time
                HAVING sum(m.points) < 0
                ORDER BY l.expire_time DESC, m.lot_id DESC, m.source_entry_id DESC
            LOOP
                EXIT WHEN v_left = 0;
                v_take := least(v_left, r.restorable);
                UPDATE lots SET remaining = remaining + v_take WHERE lot_id = r.lot_id;
                INSERT INTO lot_moves (member_id, lot_id, entry_id, source_entry_id, points)
                VALUES (p_member, r.lot_id, p_entry, r.source_entry_id, v_take);
                v_left := v_left - v_take;
            END LOOP;
        END IF;
        IF v_left > 0 THEN
            IF p_expire IS NULL THEN
                RAISE EXCEPTION 'entry % credits % points but names no lot expiry', p_entry, v_left
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            INSERT INTO lots (member_id, entry_id, origin_entry_id, points, remaining, expire_time, create_time)
            VALUES (p_member, p_entry, coalesce(p_origin, p_entry), v_left, v_left, p_expire, p_now);
        END IF;
        RETURN v_amount;
    ELSIF p_delta < 0 THEN
        v_amount := least(-p_delta, greatest(p_available_after - p_delta, 0));
        v_left := v_amount;
        FOR r IN
            SELECT lot_id, remaining FROM lots
            WHERE member_id = p_member AND remaining > 0
            ORDER BY (origin_entry_id = p_prefer) IS TRUE DESC, expire_time, lot_id
        LOOP
            EXIT WHEN v_left = 0;
            v_take := least(v_left, r.remaining);
            UPDATE lots SET remaining = remaining - v_take WHERE lot_id = r.lot_id;
            INSERT INTO lot_moves (member_id, lot_id, entry_id, source_entry_id, points)
            VALUES (p_member, r.lot_id, p_entry, p_entry, -v_take);
            v_left := v_left - v_take;
        END LOOP;
        IF v_left > 0 THEN
            RAISE EXCEPTION 'lots of member % are % points short for entry %', p_member, v_left, p_entry
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN v_amount;
    END IF;
    RETURN 0;
END
$$;
-- +goose StatementEnd

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

-- +goose StatementBegin
CREATE FUNCTION tier_part(p_enabled boolean, p_member text, p_at timestamptz, p_ids text[], p_multipliers integer[],
                          p_base bigint, p_to_pending boolean,
                          OUT tier_id text, OUT points bigint, OUT to_available bigint, OUT to_pending bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_idx int;
BEGIN
    points := 0;
    to_available := 0;
    to_pending := 0;
    IF NOT p_enabled THEN
        RETURN;
    END IF;
    SELECT coalesce(max(x.i), 1) INTO v_idx
    FROM (
        SELECT array_position(p_ids, t.tier_id) AS i
        FROM member_tiers t
        WHERE t.member_id = p_member
        UNION ALL
        SELECT array_position(p_ids, ms.tier_id)
        FROM memberships ms
        WHERE ms.member_id = p_member AND ms.start_time <= p_at
          AND p_at < least(ms.end_time, coalesce(ms.cancel_time, ms.end_time))
    ) AS x;
    tier_id := p_ids[v_idx];
    points := p_base * greatest(p_multipliers[v_idx] - 100, 0) / 100;
    IF p_to_pending THEN
        to_pending := points;
    ELSE
        to_available := points;
    END IF;
END
$$;
-- +goose StatementEnd
