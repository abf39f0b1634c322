-- name: AppendEntry :batchone
-- The one write path of the ledger, in a single statement: move the member's
-- balances (refusing an overdraft under the row lock), insert the entry with its
-- running balances and the request's idempotency key, record an order's earning
-- and a pending earning's release, queue the system postings for the roll-up, and
-- settle the member's lots: a plain credit opens its lot in the statement, any other
-- change of the available balance calls ledger_settle_lots, which runs once the
-- member's row is locked.
-- No row comes back when the member is unknown or the available balance would go
-- below zero (with check_available); a repeated (member, request id) fails on
-- entries_request_idx. Either way nothing is written.
-- An earning that counts towards the tiers (qualify) moves the member's qualifying
-- metric through tier_qualify, also under the row lock, which upgrades the member
-- at once when the metric reaches a higher tier.
WITH tier AS (
    -- An order's earning on the fast path (tier_in_statement) applies the member's
    -- effective tier here rather than in a read before it (see tier_part).
    SELECT * FROM tier_part(@tier_in_statement::boolean, @member_id::text, @tier_now::timestamptz, @tier_ids::text[],
                            @tier_multipliers::integer[], @tier_base_points::bigint, @tier_to_pending::boolean)
), moved AS (
    UPDATE member_balances AS b
    SET available = b.available + tier.to_available + @d_available::bigint,
        pending   = b.pending + tier.to_pending + @d_pending::bigint,
        held      = b.held + @d_held::bigint,
        -- The entry's time: business time, never before the member's last entry
        -- (entries of a member are in time order by id; see the migration).
        last_entry_time = greatest(b.last_entry_time, @create_time::timestamptz)
    FROM tier
    WHERE b.member_id = @member_id::text
      -- A credit always applies (even to a balance in debt); a debit only if it
      -- leaves the balance at zero or above, unless the plan allows debt.
      AND (NOT @check_available::boolean OR @d_available::bigint >= 0 OR b.available + @d_available::bigint >= 0)
    RETURNING b.member_id, b.available, b.pending, b.held, b.last_entry_time
), entry AS (
    INSERT INTO entries (member_id, kind, accounts, amounts, available_after, pending_after, held_after,
                         request_id, fingerprint, order_id, hold_id, reverses_entry_id, memo, actor_key_id,
                         reason_code, ticket_id, create_time)
    -- The tier's part goes to the first posting (the credit) and comes from the
    -- second (system:issued), where the fast path's earnings have them.
    SELECT moved.member_id, @kind::text, @accounts::text[],
           CASE WHEN tier.points = 0 THEN @amounts::bigint[]
                ELSE array_cat(ARRAY[(@amounts::bigint[])[1] + tier.points, (@amounts::bigint[])[2] - tier.points],
                               (@amounts::bigint[])[3:]) END,
           moved.available, moved.pending, moved.held,
           @request_id::text, @fingerprint::bytea, sqlc.narg(order_id)::text, sqlc.narg(hold_id)::bigint,
           sqlc.narg(reverses_entry_id)::bigint, @memo::text, @actor_key_id::text,
           sqlc.narg(reason_code)::text, sqlc.narg(ticket_id)::text, moved.last_entry_time
    FROM moved, tier
    RETURNING *
), pend AS (
    -- Pending earnings wait for their release (release_time set only for them).
    INSERT INTO pending_releases (entry_id, member_id, order_id, points, release_time, lot_expire_time)
    SELECT entry.entry_id, entry.member_id, entry.order_id, tier.to_pending + @d_pending::bigint, sqlc.narg(release_time)::timestamptz,
           sqlc.narg(lot_expire_time)::timestamptz
    FROM entry, tier
    WHERE sqlc.narg(release_time)::timestamptz IS NOT NULL
), ord AS (
    -- An order's earning (record_order set only for them), for refunds.
    -- With the member's tier and perks at this moment, which its refunds use.
    INSERT INTO orders (member_id, order_id, earn_entry_id, spend_minor, currency, earned_points,
                        tier_id, perks, metric_points, metric_spend, metric_day)
    SELECT entry.member_id, entry.order_id, entry.entry_id, sqlc.narg(order_spend_minor)::bigint, @order_currency::text,
           tier.points + @order_earned_points::bigint, coalesce(tier.tier_id, sqlc.narg(order_tier_id)::text),
           CASE WHEN tier.tier_id IS NOT NULL THEN @tier_perks::jsonb -> tier.tier_id ELSE sqlc.narg(order_perks)::jsonb END,
           CASE WHEN @qualify::boolean THEN (CASE WHEN @tier_counts::boolean THEN tier.points ELSE 0 END) + @metric_points::bigint ELSE 0 END,
           CASE WHEN @qualify::boolean THEN @metric_spend::bigint ELSE 0 END,
           CASE WHEN @qualify::boolean THEN @metric_day::date END
    FROM entry, tier
    WHERE @record_order::boolean
    ON CONFLICT (member_id, order_id) DO UPDATE
        SET earn_entry_id = excluded.earn_entry_id, spend_minor = excluded.spend_minor,
            currency = excluded.currency, earned_points = excluded.earned_points,
            tier_id = excluded.tier_id, perks = excluded.perks, metric_points = excluded.metric_points,
            metric_spend = excluded.metric_spend, metric_day = excluded.metric_day
), lot AS (
    -- A plain credit (lot_in_statement) opens its lot here; only what is above
    -- zero, the rest repays debt (the rule of ledger_settle_lots).
    INSERT INTO lots (member_id, entry_id, origin_entry_id, points, remaining, expire_time, create_time)
    SELECT entry.member_id, entry.entry_id, coalesce(sqlc.narg(lot_origin_entry_id)::bigint, entry.entry_id),
           least(tier.to_available + @d_available::bigint, entry.available_after),
           least(tier.to_available + @d_available::bigint, entry.available_after),
           sqlc.narg(lot_expire_time)::timestamptz, entry.create_time
    FROM entry, tier
    WHERE @lot_in_statement::boolean AND least(tier.to_available + @d_available::bigint, entry.available_after) > 0
), sys AS (
    INSERT INTO system_deltas (account, amount)
    SELECT (@system_accounts::text[])[i],
           (@system_amounts::bigint[])[i] - CASE WHEN (@system_accounts::text[])[i] = 'system:issued' THEN tier.points ELSE 0 END
    FROM entry, tier, generate_subscripts(@system_accounts::text[], 1) AS i
)
SELECT entry.*, tier.points AS tier_points, coalesce(tier.tier_id, '')::text AS tier_id,
       CASE WHEN @lot_in_function::boolean THEN
           ledger_settle_lots(entry.member_id, entry.entry_id, @d_available::bigint, entry.available_after,
                              sqlc.narg(lot_expire_time)::timestamptz, sqlc.narg(lot_origin_entry_id)::bigint,
                              sqlc.narg(prefer_lot_origin)::bigint, @restore_from::bigint[], entry.create_time)
       ELSE 0 END::bigint AS lot_points,
       coalesce(CASE WHEN @qualify::boolean THEN
           tier_qualify(entry.member_id, entry.entry_id, entry.order_id, @metric_day::date,
                        (CASE WHEN @tier_counts::boolean THEN tier.points ELSE 0 END) + @metric_points::bigint,
                        @metric_spend::bigint, @tier_metric::text, @tier_window_start::date, @tier_ids::text[],
                        @tier_thresholds::bigint[], @tier_period_end::timestamptz, @tier_now::timestamptz,
                        @tier_policy_version::bigint)
       END, '')::text AS upgraded_to
FROM entry, tier;

-- name: EntryByRequest :one
SELECT * FROM entries WHERE member_id = $1 AND request_id = $2;

-- name: GetEntry :one
SELECT * FROM entries WHERE entry_id = $1;

-- name: GetReversal :one
SELECT * FROM entries WHERE reverses_entry_id = $1;

-- name: GetMemberBalance :one
SELECT * FROM member_balances WHERE member_id = $1;

-- name: MemberBalanceAsOf :one
-- The running balances of the member's last entry at or before the instant.
SELECT available_after, pending_after, held_after
FROM entries
WHERE member_id = @member_id AND create_time <= @as_of
ORDER BY entry_id DESC
LIMIT 1;

-- name: ListMemberEntries :many
-- Newest first, keyset-paginated by entry id.
SELECT * FROM entries
WHERE member_id = @member_id
  AND entry_id < @before_entry_id
  AND (cardinality(@kinds::text[]) = 0 OR kind = ANY (@kinds::text[]))
  AND (sqlc.narg(start_time)::timestamptz IS NULL OR create_time >= sqlc.narg(start_time))
  AND (sqlc.narg(end_time)::timestamptz IS NULL OR create_time < sqlc.narg(end_time))
ORDER BY entry_id DESC
LIMIT @page_size;

-- name: RollUpSystemDeltas :exec
-- Folds queued system postings into system_balances. Rows are deleted and added in
-- one statement, so concurrent roll-ups (several replicas) never count one twice.
WITH d AS (
    DELETE FROM system_deltas RETURNING account, amount
), s AS (
    SELECT account, sum(amount)::bigint AS total FROM d GROUP BY account
)
INSERT INTO system_balances (account, balance)
SELECT account, total FROM s
ON CONFLICT (account) DO UPDATE SET balance = system_balances.balance + excluded.balance;

-- name: SystemBalances :many
-- Rolled-up balance plus what is still queued, per system account.
SELECT account, sum(amount)::bigint AS balance
FROM (
    SELECT account, balance AS amount FROM system_balances
    UNION ALL
    SELECT account, amount FROM system_deltas
) AS x
GROUP BY account
ORDER BY account;

-- name: GetPendingRelease :one
SELECT * FROM pending_releases WHERE entry_id = $1;
