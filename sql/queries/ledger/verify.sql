-- name: VerifyCounts :one
-- (The postings' sums are VerifyPostingsSince's, from position 0.)
SELECT (SELECT count(*) FROM entries)::bigint AS entries,
       (SELECT count(*) FROM member_balances)::bigint AS members,
       (SELECT count(DISTINCT account) FROM (SELECT account FROM system_balances UNION SELECT account FROM system_deltas) a)::bigint AS system_accounts;

-- name: VerifyUnbalancedEntries :many
SELECT entry_id, member_id FROM entries
WHERE cardinality(accounts) < 2 OR cardinality(accounts) <> cardinality(amounts) OR NOT ledger_amounts_balanced(amounts)
ORDER BY entry_id
LIMIT 100;

-- name: VerifyMemberBalances :many
-- Cached member balances that differ from the sum of their postings.
WITH sums AS (
    SELECT member_id,
           coalesce(sum(amount) FILTER (WHERE account = 'available'), 0)::bigint AS available,
           coalesce(sum(amount) FILTER (WHERE account = 'pending'), 0)::bigint AS pending,
           coalesce(sum(amount) FILTER (WHERE account = 'held'), 0)::bigint AS held
    FROM postings
    WHERE member_id IS NOT NULL
    GROUP BY member_id
)
SELECT coalesce(b.member_id, s.member_id)::text AS member_id,
       coalesce(b.available, 0)::bigint AS cached_available, coalesce(s.available, 0)::bigint AS posted_available,
       coalesce(b.pending, 0)::bigint AS cached_pending, coalesce(s.pending, 0)::bigint AS posted_pending,
       coalesce(b.held, 0)::bigint AS cached_held, coalesce(s.held, 0)::bigint AS posted_held
FROM member_balances b
FULL JOIN sums s ON s.member_id = b.member_id
WHERE coalesce(b.available, 0) <> coalesce(s.available, 0)
   OR coalesce(b.pending, 0) <> coalesce(s.pending, 0)
   OR coalesce(b.held, 0) <> coalesce(s.held, 0)
ORDER BY 1
LIMIT 100;

-- name: VerifyNegativeBalances :many
-- Balances below zero, but for an available balance in debt after a refund's
-- claw-back (the one way it may go negative).
SELECT b.member_id, b.available, b.pending, b.held FROM member_balances b
WHERE b.pending < 0 OR b.held < 0
   OR (b.available < 0 AND NOT EXISTS (
        SELECT 1 FROM entries e WHERE e.member_id = b.member_id AND e.kind = 'REFUND' AND 'available' = ANY (e.accounts)))
ORDER BY b.member_id
LIMIT 100;

-- name: VerifyHeldMatchesHolds :many
SELECT b.member_id, b.held, coalesce(h.points, 0)::bigint AS active_hold_points
FROM member_balances b
LEFT JOIN (SELECT member_id, sum(points)::bigint AS points FROM holds WHERE status = 'ACTIVE' GROUP BY member_id) h
    ON h.member_id = b.member_id
WHERE b.held <> coalesce(h.points, 0)
ORDER BY b.member_id
LIMIT 100;

-- name: VerifyRunningBalances :many
-- Each entry's running balances must equal the previous entry's plus its own
-- postings, starting from zero; and no entry may be stamped before the member's
-- previous one (the member's entries are read in time order by the statement,
-- the balance as of an instant and the incremental verify).
WITH e AS (
    SELECT entry_id, member_id, available_after, pending_after, held_after, create_time,
           (SELECT coalesce(sum(amounts[i]), 0) FROM generate_subscripts(accounts, 1) AS i WHERE accounts[i] = 'available')::bigint AS d_available,
           (SELECT coalesce(sum(amounts[i]), 0) FROM generate_subscripts(accounts, 1) AS i WHERE accounts[i] = 'pending')::bigint AS d_pending,
           (SELECT coalesce(sum(amounts[i]), 0) FROM generate_subscripts(accounts, 1) AS i WHERE accounts[i] = 'held')::bigint AS d_held
    FROM entries
), w AS (
    SELECT e.*,
           coalesce(lag(available_after) OVER m, 0) AS prev_available,
           coalesce(lag(pending_after) OVER m, 0) AS prev_pending,
           coalesce(lag(held_after) OVER m, 0) AS prev_held,
           coalesce(lag(create_time) OVER m > create_time, false) AS out_of_order
    FROM e
    WINDOW m AS (PARTITION BY member_id ORDER BY entry_id)
)
SELECT entry_id, member_id, available_after, (prev_available + d_available)::bigint AS expected_available,
       (available_after <> prev_available + d_available OR pending_after <> prev_pending + d_pending
        OR held_after <> prev_held + d_held)::boolean AS running_mismatch,
       out_of_order::boolean AS out_of_order
FROM w
WHERE available_after <> prev_available + d_available
   OR pending_after <> prev_pending + d_pending
   OR held_after <> prev_held + d_held
   OR out_of_order
ORDER BY entry_id
LIMIT 100;

-- name: VerifyPendingMatchesReleases :many
SELECT b.member_id, b.pending, coalesce(r.points, 0)::bigint AS unreleased_points
FROM member_balances b
LEFT JOIN (SELECT member_id, sum(points)::bigint AS points FROM pending_releases WHERE NOT released GROUP BY member_id) r
    ON r.member_id = b.member_id
WHERE b.pending <> coalesce(r.points, 0)
ORDER BY b.member_id
LIMIT 100;

-- name: VerifyTierMetric :many
-- Days of the qualifying metric whose cached sums differ from their moves.
WITH sums AS (
    SELECT member_id, day, sum(points)::bigint AS points, sum(spend_minor)::bigint AS spend_minor
    FROM tier_metric_moves
    GROUP BY member_id, day
)
SELECT coalesce(d.member_id, s.member_id)::text AS member_id, coalesce(d.day, s.day)::date AS day,
       coalesce(d.points, 0)::bigint AS cached_points, coalesce(s.points, 0)::bigint AS moved_points,
       coalesce(d.spend_minor, 0)::bigint AS cached_spend, coalesce(s.spend_minor, 0)::bigint AS moved_spend
FROM tier_metric_days d
FULL JOIN sums s ON s.member_id = d.member_id AND s.day = d.day
WHERE coalesce(d.points, 0) <> coalesce(s.points, 0) OR coalesce(d.spend_minor, 0) <> coalesce(s.spend_minor, 0)
ORDER BY 1, 2
LIMIT 100;
