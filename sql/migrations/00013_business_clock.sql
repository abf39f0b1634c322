-- +goose Up

-- One business clock. Business time is the wall clock plus an offset that time
-- travel moves forward and nothing moves back. The offset lives here, in one row, so
-- that a restart keeps it (points earned under a moved clock are not released or
-- expired by a clock that jumped back) and every replica runs on the same time
-- (each reads the row every half second; see internal/businessclock).
CREATE TABLE business_clock (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Microseconds, the resolution of timestamptz. Bounded by the Go rule
    -- (businessclock.NextOffset); the CHECK is the database's second line of
    -- defence that business time never runs behind the wall clock.
    offset_micros bigint  NOT NULL DEFAULT 0 CHECK (offset_micros >= 0)
);
INSERT INTO business_clock DEFAULT VALUES;

-- Every stored business time now comes from Go, from the business clock, as a
-- parameter: no default may stamp a row with the database's wall clock behind the
-- clock's back. (program_settings.update_time keeps its default for rows that
-- migrations seed; api_keys keep theirs: key times are security records, read
-- against server logs, and stay on the wall clock.)
ALTER TABLE entries ALTER COLUMN create_time DROP DEFAULT;
ALTER TABLE lots ALTER COLUMN create_time DROP DEFAULT;
ALTER TABLE members ALTER COLUMN join_time DROP DEFAULT;
ALTER TABLE holds ALTER COLUMN create_time DROP DEFAULT;
ALTER TABLE goodwill_approvals ALTER COLUMN create_time DROP DEFAULT;
ALTER TABLE refunds ALTER COLUMN create_time DROP DEFAULT;
ALTER TABLE tier_policies ALTER COLUMN create_time DROP DEFAULT;

-- A member's entries are stamped in entry id order: the write statement stamps an
-- entry at the later of the business time it was given and the member's last
-- entry's time, kept here under the row lock the statement holds anyway. So
-- "balance as of" (the last entry at or before an instant, by id) and statements
-- filtered by time stay right even when two replicas' clocks differ a little, or a
-- request computed its time before a later one took the row lock.
ALTER TABLE member_balances ADD COLUMN last_entry_time timestamptz;
UPDATE member_balances b SET last_entry_time = e.last
FROM (SELECT member_id, max(create_time) AS last FROM entries GROUP BY member_id) e
WHERE e.member_id = b.member_id;

-- ledger_settle_lots, as in 00006, stamping the lot it opens with the entry's time
-- (p_now) instead of the database's clock.
DROP FUNCTION ledger_settle_lots(text, bigint, bigint, bigint, timestamptz, bigint, bigint, bigint[]);
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

-- +goose Down
-- The old signature comes back as a wrapper stamping lots with the database's clock.
-- +goose StatementBegin
CREATE FUNCTION ledger_settle_lots(p_member text, p_entry bigint, p_delta bigint, p_available_after bigint,
                                   p_expire timestamptz, p_origin bigint, p_prefer bigint, p_restore bigint[])
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN ledger_settle_lots(p_member, p_entry, p_delta, p_available_after, p_expire, p_origin, p_prefer, p_restore,
                              clock_timestamp());
END
$$;
-- +goose StatementEnd
ALTER TABLE member_balances DROP COLUMN last_entry_time;
ALTER TABLE tier_policies ALTER COLUMN create_time SET DEFAULT now();
ALTER TABLE refunds ALTER COLUMN create_time SET DEFAULT now();
ALTER TABLE goodwill_approvals ALTER COLUMN create_time SET DEFAULT now();
ALTER TABLE holds ALTER COLUMN create_time SET DEFAULT now();
ALTER TABLE members ALTER COLUMN join_time SET DEFAULT now();
ALTER TABLE lots ALTER COLUMN create_time SET DEFAULT clock_timestamp();
ALTER TABLE entries ALTER COLUMN create_time SET DEFAULT clock_timestamp();
DROP TABLE business_clock;
