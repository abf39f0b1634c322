-- +goose Up

-- tier_part is the tier's part of an order's earning, which the ledger's write
-- statement applies so that the earning needs no read before it: the member's
-- effective tier at p_at (the better of the qualified tier and the paid memberships
-- active then, as a position in the policy's ladder p_ids, ascending; the bottom tier
-- when neither is found), and base * (its multiplier - 100) / 100 points, rounded
-- down, credited to pending (p_to_pending: an order in its return window) or to
-- available. With p_enabled false (every other entry) it reads nothing and gives
-- nothing. PL/pgSQL, so its queries are planned once per connection, not per call.
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

-- +goose Down
DROP FUNCTION tier_part;
