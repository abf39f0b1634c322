-- Incremental verify (docs/LEDGER.md): the checks of verify.sql on what came after
-- the last checkpoint, each an index range or a read of the per-member rows, never
-- a scan of the ledger's history.

-- name: VerifyHighWater :one
-- The ids taken so far (every entry, lot and move at or below them is committed or
-- never will be once the transactions of the snapshot taken after have ended).
SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('entries', 'entry_id')), 0)::bigint AS entry_id,
       coalesce(pg_sequence_last_value(pg_get_serial_sequence('lots', 'lot_id')), 0)::bigint AS lot_id,
       coalesce(pg_sequence_last_value(pg_get_serial_sequence('tier_metric_moves', 'move_id')), 0)::bigint AS move_id;

-- name: VerifyWriters :one
-- A transaction id taken after the high-water mark (in a statement of its own,
-- which commits at once): every writer that holds an id up to the mark has a
-- lower one. (Not the snapshot's list of running transactions: it leaves out
-- those above the latest to have ended.)
SELECT pg_current_xact_id()::text AS xid;

-- name: VerifyWritersEnded :one
-- Whether every transaction below the id has ended, to a new snapshot.
SELECT pg_snapshot_xmin(pg_current_snapshot()) > sqlc.arg(xid)::text::xid8 AS ended;

-- name: LastVerifyCheckpoint :one
SELECT * FROM verify_checkpoints ORDER BY entry_id DESC, checkpoint_id DESC LIMIT 1;

-- name: SaveVerifyCheckpoint :exec
INSERT INTO verify_checkpoints (entry_id, lot_id, move_id, entries, postings_sum, system_sums, full_audit)
VALUES (@entry_id, @lot_id, @move_id, @entries, @postings_sum, @system_sums, @full_audit);

-- name: VerifyPostingsSince :many
-- The postings of the entries after a position, per system account ('' for the
-- member accounts), split at the high-water mark: the sums a checkpoint at it
-- keeps, and all that the snapshot holds.
SELECT CASE WHEN p.account LIKE 'system:%' THEN p.account ELSE '' END::text AS account,
       coalesce(sum(p.amount) FILTER (WHERE p.entry_id <= @upto::bigint), 0)::bigint AS sum_upto,
       coalesce(sum(p.amount), 0)::bigint AS sum_all
FROM postings p
WHERE p.entry_id > @after::bigint
GROUP BY 1;

-- name: VerifyEntriesSince :one
-- Entries after a position, up to the high-water mark and in all.
SELECT count(*) FILTER (WHERE entry_id <= @upto::bigint)::bigint AS upto, count(*)::bigint AS total
FROM entries WHERE entry_id > @after::bigint;

-- name: VerifyUnbalancedEntriesSince :many
SELECT entry_id, member_id FROM entries
WHERE entry_id > @after::bigint
  AND (cardinality(accounts) < 2 OR cardinality(accounts) <> cardinality(amounts) OR NOT ledger_amounts_balanced(amounts))
ORDER BY entry_id
LIMIT 100;

-- name: VerifyRunningBalancesSince :many
-- VerifyRunningBalances for the entries after a position: each one's previous
-- entry (maybe before the position) is one probe of the member's index, and its
-- next entry another. A member's entries are in time order by id, so the entries
-- just before and after one in (create_time, entry_id) order must have a smaller
-- and a larger id; every neighbour pair that changed since the position has a
-- new entry in it.
WITH e AS (
    SELECT x.entry_id, x.member_id, x.available_after, x.pending_after, x.held_after,
           (SELECT coalesce(sum(x.amounts[i]), 0) FROM generate_subscripts(x.accounts, 1) AS i WHERE x.accounts[i] = 'available')::bigint AS d_available,
           (SELECT coalesce(sum(x.amounts[i]), 0) FROM generate_subscripts(x.accounts, 1) AS i WHERE x.accounts[i] = 'pending')::bigint AS d_pending,
           (SELECT coalesce(sum(x.amounts[i]), 0) FROM generate_subscripts(x.accounts, 1) AS i WHERE x.accounts[i] = 'held')::bigint AS d_held,
           coalesce(p.available_after, 0) AS prev_available,
           coalesce(p.pending_after, 0) AS prev_pending,
           coalesce(p.held_after, 0) AS prev_held,
           coalesce(p.entry_id > x.entry_id, false) OR coalesce(n.entry_id < x.entry_id, false) AS out_of_order
    FROM entries x
    LEFT JOIN LATERAL (
        SELECT y.entry_id, y.available_after, y.pending_after, y.held_after FROM entries y
        WHERE y.member_id = x.member_id AND (y.create_time, y.entry_id) < (x.create_time, x.entry_id)
        ORDER BY y.create_time DESC, y.entry_id DESC
        LIMIT 1
    ) AS p ON true
    LEFT JOIN LATERAL (
        SELECT y.entry_id FROM entries y
        WHERE y.member_id = x.member_id AND (y.create_time, y.entry_id) > (x.create_time, x.entry_id)
        ORDER BY y.create_time, y.entry_id
        LIMIT 1
    ) AS n ON true
    WHERE x.entry_id > @after::bigint
)
SELECT entry_id, member_id, available_after, (prev_available + d_available)::bigint AS expected_available,
       (available_after <> prev_available + d_available OR pending_after <> prev_pending + d_pending
        OR held_after <> prev_held + d_held)::boolean AS running_mismatch,
       out_of_order::boolean AS out_of_order
FROM e
WHERE available_after <> prev_available + d_available
   OR pending_after <> prev_pending + d_pending
   OR held_after <> prev_held + d_held
   OR out_of_order
ORDER BY entry_id
LIMIT 100;

-- name: VerifyMemberBalancesByLastEntry :many
-- Cached member balances that differ from the running balances of the member's
-- last entry: with every running balance chained from zero (checked up to the
-- checkpoint, and since), the last one is the sum of the member's postings. One
-- probe of the member's index per member.
SELECT b.member_id,
       b.available AS cached_available, coalesce(l.available_after, 0)::bigint AS posted_available,
       b.pending AS cached_pending, coalesce(l.pending_after, 0)::bigint AS posted_pending,
       b.held AS cached_held, coalesce(l.held_after, 0)::bigint AS posted_held
FROM member_balances b
LEFT JOIN LATERAL (
    SELECT e.available_after, e.pending_after, e.held_after FROM entries e
    WHERE e.member_id = b.member_id
    ORDER BY e.create_time DESC, e.entry_id DESC
    LIMIT 1
) AS l ON true
WHERE b.available <> coalesce(l.available_after, 0)
   OR b.pending <> coalesce(l.pending_after, 0)
   OR b.held <> coalesce(l.held_after, 0)
ORDER BY b.member_id
LIMIT 100;

-- name: VerifyEntriesWithoutMember :many
-- Entries after a position whose member has no balance row (the full check's
-- FULL JOIN finds them as balances that differ from their postings).
SELECT DISTINCT e.member_id FROM entries e
WHERE e.entry_id > @after::bigint
  AND NOT EXISTS (SELECT 1 FROM member_balances b WHERE b.member_id = e.member_id)
ORDER BY 1
LIMIT 100;

-- name: VerifyCachedSystemBalances :many
-- Rolled-up plus queued, per system account (compared in Go with the sums).
SELECT account, sum(amount)::bigint AS total
FROM (SELECT account, balance AS amount FROM system_balances UNION ALL SELECT account, amount FROM system_deltas) x
GROUP BY account
ORDER BY account;

-- name: VerifyCampaignSpent :many
SELECT campaign_id, sum(spent_points)::bigint AS points FROM campaign_budget_slices GROUP BY campaign_id ORDER BY campaign_id;

-- name: VerifyLotMovesSince :many
-- VerifyLotMoves for the lots opened or moved after the positions.
SELECT l.lot_id, l.member_id, l.remaining,
       (l.points + coalesce((SELECT sum(m.points) FROM lot_moves m WHERE m.lot_id = l.lot_id), 0))::bigint AS expected
FROM lots l
WHERE (l.lot_id > @after_lot::bigint OR l.lot_id IN (SELECT m.lot_id FROM lot_moves m WHERE m.entry_id > @after_entry::bigint))
  AND l.remaining <> l.points + coalesce((SELECT sum(m.points) FROM lot_moves m WHERE m.lot_id = l.lot_id), 0)
ORDER BY l.lot_id
LIMIT 100;

-- name: VerifyTierMetricSince :many
-- VerifyTierMetric for the days with moves after a position.
WITH days AS (
    SELECT DISTINCT member_id, day FROM tier_metric_moves WHERE move_id > @after_move::bigint
), sums AS (
    SELECT k.member_id, k.day,
           coalesce((SELECT sum(m.points) FROM tier_metric_moves m WHERE m.member_id = k.member_id AND m.day = k.day), 0)::bigint AS points,
           coalesce((SELECT sum(m.spend_minor) FROM tier_metric_moves m WHERE m.member_id = k.member_id AND m.day = k.day), 0)::bigint AS spend_minor
    FROM days k
)
SELECT s.member_id::text AS member_id, s.day::date AS day,
       coalesce(d.points, 0)::bigint AS cached_points, s.points AS moved_points,
       coalesce(d.spend_minor, 0)::bigint AS cached_spend, s.spend_minor AS moved_spend
FROM sums s
LEFT JOIN tier_metric_days d ON d.member_id = s.member_id AND d.day = s.day
WHERE coalesce(d.points, 0) <> s.points OR coalesce(d.spend_minor, 0) <> s.spend_minor
ORDER BY 1, 2
LIMIT 100;
