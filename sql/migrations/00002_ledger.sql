-- +goose Up

-- The double-entry ledger.
--
-- An entry is one row holding its postings inline (accounts[i] receives amounts[i]).
-- Member accounts are named "available", "pending" and "held" and belong to the
-- entry's member; system accounts are named "system:...". A CHECK makes every entry
-- sum to zero, and triggers make entries immutable. The view "postings" shows them
-- one posting per row.
--
-- Hot accounts: every earn also posts to a system account. System balances are never
-- updated in the write path: each entry appends its system postings to
-- system_deltas, and a roll-up folds those into system_balances in the background.
-- Member postings update one narrow row per member (member_balances), where the
-- overdraft check happens under that row's lock.

-- +goose StatementBegin
CREATE FUNCTION ledger_amounts_balanced(amounts bigint[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(sum(a), 0) = 0 AND coalesce(bool_and(a <> 0), false) FROM unnest(amounts) AS a
$$;
-- +goose StatementEnd

CREATE TABLE member_balances (
    member_id text   PRIMARY KEY REFERENCES members (member_id),
    available bigint NOT NULL DEFAULT 0,
    pending   bigint NOT NULL DEFAULT 0,
    held      bigint NOT NULL DEFAULT 0,
    CHECK (pending >= 0 AND held >= 0)
) WITH (fillfactor = 70); -- room for HOT updates of the hot rows

INSERT INTO member_balances (member_id) SELECT member_id FROM members;

CREATE TABLE entries (
    entry_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id         text        NOT NULL,
    kind              text        NOT NULL,
    accounts          text[]      NOT NULL,
    amounts           bigint[]    NOT NULL,
    -- The member's balances right after this entry (running balances).
    available_after   bigint      NOT NULL,
    pending_after     bigint      NOT NULL,
    held_after        bigint      NOT NULL,
    -- Idempotency: the caller's request id, unique per member, and a hash of the
    -- request, so a reused id with another body is recognised.
    request_id        text        NOT NULL,
    fingerprint       bytea       NOT NULL,
    order_id          text,
    hold_id           bigint,
    reverses_entry_id bigint      REFERENCES entries (entry_id),
    memo              text        NOT NULL DEFAULT '',
    actor_key_id      text        NOT NULL DEFAULT '',
    create_time       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT entries_postings_balance CHECK (
        cardinality(accounts) >= 2
        AND cardinality(accounts) = cardinality(amounts)
        AND ledger_amounts_balanced(amounts)
    )
);
CREATE INDEX entries_member_idx ON entries (member_id, entry_id DESC);
CREATE UNIQUE INDEX entries_request_idx ON entries (member_id, request_id);
CREATE UNIQUE INDEX entries_reversed_once ON entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;
CREATE INDEX entries_hold_idx ON entries (hold_id) WHERE hold_id IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable: post a reversing entry instead'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE VIEW postings AS
SELECT e.entry_id,
       CASE WHEN p.account LIKE 'system:%' THEN NULL ELSE e.member_id END AS member_id,
       p.account,
       p.amount,
       e.kind,
       e.create_time
FROM entries e, unnest(e.accounts, e.amounts) AS p (account, amount);

CREATE TABLE system_balances (
    account text   PRIMARY KEY CHECK (account LIKE 'system:%'),
    balance bigint NOT NULL DEFAULT 0
);

-- Append-only queue of system postings not yet rolled up (no index: the roll-up
-- takes them all).
CREATE TABLE system_deltas (
    account text   NOT NULL,
    amount  bigint NOT NULL
);

CREATE TABLE holds (
    hold_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id       text        NOT NULL,
    points          bigint      NOT NULL CHECK (points > 0),
    status          text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'CAPTURED', 'VOIDED', 'EXPIRED')),
    captured_points bigint      NOT NULL DEFAULT 0 CHECK (captured_points >= 0 AND captured_points <= points),
    order_id        text,
    create_time     timestamptz NOT NULL DEFAULT now(),
    expire_time     timestamptz NOT NULL
);
CREATE INDEX holds_member_idx ON holds (member_id);
CREATE INDEX holds_expiry_idx ON holds (expire_time) WHERE status = 'ACTIVE';

-- +goose Down
DROP TABLE holds;
DROP TABLE system_deltas;
DROP TABLE system_balances;
DROP VIEW postings;
DROP TABLE entries;
DROP FUNCTION ledger_refuse_change();
DROP TABLE member_balances;
DROP FUNCTION ledger_amounts_balanced(bigint[]);
