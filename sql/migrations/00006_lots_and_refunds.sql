-- +goose Up

-- Lots: every credit to a member's available account opens a lot with an expiry
-- date; every debit consumes lots, earliest expiry first (ties: oldest lot first).
-- lot_moves records which lots each entry consumed or gave back, so a hold that is
-- voided, or a redemption that is reversed or refunded, returns its points to the
-- very lots they came from, with their original expiry.
--
-- Invariant (checked by verify): a member's open lots hold exactly
-- max(available, 0). The balance goes below zero only through a refund claw-back;
-- while it does, the member has no open lot, and the next credits repay the debt
-- before they open a lot.
--
-- All of it happens inside the ledger's single write statement, through
-- ledger_settle_lots (below), under the member's row lock: no code path can append
-- an entry and forget its lots.
CREATE TABLE lots (
    lot_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id       text        NOT NULL,
    -- The entry that credited the points (NULL for lots opened by this migration).
    -- No foreign keys here or in lot_moves: they would cost a lookup on every
    -- earning and redemption, and entries are immutable and never deleted.
    entry_id        bigint,
    -- The earning the points come from: the EARN entry of a released pending
    -- earning, otherwise the crediting entry itself. A reversal or refund of that
    -- earning consumes this lot first.
    origin_entry_id bigint,
    points          bigint      NOT NULL CHECK (points > 0),
    remaining       bigint      NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    expire_time     timestamptz NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX lots_open_idx ON lots (member_id, expire_time, lot_id) WHERE remaining > 0;
CREATE INDEX lots_due_idx ON lots (expire_time) WHERE remaining > 0;

-- An append-only log, written on every redemption: no primary key and two indexes
-- only (by source, to give back; by entry, to show), to keep that write cheap.
CREATE TABLE lot_moves (
    member_id       text   NOT NULL,
    lot_id          bigint NOT NULL,
    -- The entry that moved the lot.
    entry_id        bigint NOT NULL,
    -- Consumption (points < 0): the consuming entry itself. Give-back (points > 0):
    -- the entry whose consumption is given back.
    source_entry_id bigint NOT NULL,
    points          bigint NOT NULL CHECK (points <> 0)
);
CREATE INDEX lot_moves_source_idx ON lot_moves (source_entry_id);
CREATE INDEX lot_moves_entry_idx ON lot_moves (entry_id);

-- ledger_settle_lots brings a member's lots in line with an entry that changed the
-- available balance by p_delta, leaving p_available_after. It is VOLATILE on
-- purpose: called from the write statement after the member's row is locked, each
-- query in it takes a fresh snapshot (READ COMMITTED) and so sees every lot change
-- committed by whoever held the lock before.
--
-- A credit fills only what is above zero (the rest repays debt). (A plain credit,
-- one giving nothing back, opens its lot in AppendEntry itself, with the same rule,
-- without the cost of a function call.) It first gives
-- back what the entries in p_restore consumed (latest expiry first), then opens a
-- lot expiring at p_expire for the rest. A debit consumes open lots earliest expiry
-- first, those of the earning p_prefer before any other. Returns the points moved.
-- +goose StatementBegin
CREATE FUNCTION ledger_settle_lots(p_member text, p_entry bigint, p_delta bigint, p_available_after bigint,
                                   p_expire timestamptz, p_origin bigint, p_prefer bigint, p_restore bigint[])
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
            INSERT INTO lots (member_id, entry_id, origin_entry_id, points, remaining, expire_time)
            VALUES (p_member, p_entry, coalesce(p_origin, p_entry), v_left, v_left, p_expire);
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

-- Balances from before lots existed become one lot each, expiring by the default
-- policy (end of the year after this one, in the program's time zone).
INSERT INTO lots (member_id, points, remaining, expire_time)
SELECT b.member_id, b.available, b.available,
       (date_trunc('year', now() AT TIME ZONE p.time_zone) + interval '2 years') AT TIME ZONE p.time_zone
FROM member_balances b,
     (SELECT time_zone FROM program_settings ORDER BY version DESC LIMIT 1) p
WHERE b.available > 0;

-- A pending earning knows the expiry of the lot it opens when released (fixed when
-- earned, under the settings then in force), and a refund inside the window lowers
-- the points still to release.
ALTER TABLE pending_releases ADD COLUMN lot_expire_time timestamptz;
UPDATE pending_releases r
SET lot_expire_time = (date_trunc('year', e.create_time AT TIME ZONE p.time_zone) + interval '2 years') AT TIME ZONE p.time_zone
FROM entries e, (SELECT time_zone FROM program_settings ORDER BY version DESC LIMIT 1) p
WHERE e.entry_id = r.entry_id;
ALTER TABLE pending_releases ALTER COLUMN lot_expire_time SET NOT NULL,
    DROP CONSTRAINT pending_releases_points_check,
    ADD CONSTRAINT pending_releases_points_check CHECK (points >= 0);

-- Orders: what an order earned and how much of it was refunded. The row is locked
-- while a refund is decided, so refunds of one order run one after the other and
-- can never add up to more than the order.
CREATE TABLE orders (
    member_id         text    NOT NULL,
    order_id          text    NOT NULL,
    earn_entry_id     bigint  REFERENCES entries (entry_id),
    -- NULL when the order earned explicit points (or only redeemed): refunds are
    -- then full only.
    spend_minor       bigint  CHECK (spend_minor > 0),
    currency          text    NOT NULL DEFAULT '',
    earned_points     bigint  NOT NULL DEFAULT 0,
    refunded_minor    bigint  NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND (spend_minor IS NULL OR refunded_minor <= spend_minor)),
    fully_refunded    boolean NOT NULL DEFAULT false,
    -- Earned points voided (pending) or clawed back (available) by refunds so far.
    points_taken_back bigint  NOT NULL DEFAULT 0 CHECK (points_taken_back >= 0),
    -- Redeemed points given back by refunds so far.
    points_returned   bigint  NOT NULL DEFAULT 0 CHECK (points_returned >= 0),
    PRIMARY KEY (member_id, order_id)
);
INSERT INTO orders (member_id, order_id, earn_entry_id, earned_points)
SELECT member_id, order_id, entry_id, coalesce((SELECT sum(a) FROM unnest(amounts) a WHERE a > 0), 0)
FROM entries
WHERE kind = 'EARN' AND order_id IS NOT NULL;

-- One row per refund request: its idempotency record and its outcome.
CREATE TABLE refunds (
    member_id          text        NOT NULL,
    request_id         text        NOT NULL,
    order_id           text        NOT NULL,
    fingerprint        bytea       NOT NULL,
    amount_minor       bigint      NOT NULL,
    points_voided      bigint      NOT NULL,
    points_clawed_back bigint      NOT NULL,
    points_returned    bigint      NOT NULL,
    take_entry_id      bigint      REFERENCES entries (entry_id),
    return_entry_id    bigint      REFERENCES entries (entry_id),
    -- The order as this refund left it, so a repeat answers exactly the first result.
    order_refunded_minor    bigint  NOT NULL,
    order_fully_refunded    boolean NOT NULL,
    order_points_taken_back bigint  NOT NULL,
    order_points_returned   bigint  NOT NULL,
    create_time        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, request_id)
);
CREATE INDEX refunds_order_idx ON refunds (member_id, order_id);

-- +goose Down
DROP TABLE refunds;
DROP TABLE orders;
ALTER TABLE pending_releases DROP COLUMN lot_expire_time,
    DROP CONSTRAINT pending_releases_points_check,
    ADD CONSTRAINT pending_releases_points_check CHECK (points > 0);
DROP FUNCTION ledger_settle_lots(text, bigint, bigint, bigint, timestamptz, bigint, bigint, bigint[]);
DROP TABLE lot_moves;
DROP TABLE lots;
