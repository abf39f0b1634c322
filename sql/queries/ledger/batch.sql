-- The ledger's write path, in two round trips per batch of commands (see
-- docs/LEDGER.md): the statements marked "read" are sent together, first, under the
-- member locks the first one takes; the rules then run in Go (ledger/apply.go),
-- and the statements marked "write" are sent together with the commit. Each works
-- on every row of the batch at once (unnest of arrays), so a batch of 64 earnings
-- is a handful of statements, not 64 times 8.

-- name: LockBatchMembers :batchmany
-- read: the balances of the batch's members, locked in member order (so batches
-- never deadlock each other), and what the rules need of the member. The owners
-- of the holds the batch closes, known only by hold id, join the batch's members
-- in one array: "= ANY (ids) OR IN (owners)" cannot be an index condition, and
-- its plan walked every member's balance (100 ms for a batch of 64 at 300,000
-- members).
SELECT b.member_id, b.available, b.pending, b.held, b.last_entry_time, m.join_time,
       m.birthday_month, m.birthday_day, m.birthday_year, m.channel, m.attributes
FROM member_balances b
JOIN members m ON m.member_id = b.member_id
WHERE b.member_id = ANY (@member_ids::text[] || ARRAY(SELECT h.member_id FROM holds h WHERE h.hold_id = ANY (@hold_ids::bigint[])))
ORDER BY b.member_id
FOR UPDATE OF b;

-- name: LockHoldsOf :batchmany
-- read: the holds the batch closes, locked after their members, each with the
-- entry that placed it (whose lot consumption a release gives back).
SELECT sqlc.embed(h),
       coalesce((SELECT e.entry_id FROM entries e WHERE e.hold_id = h.hold_id AND e.kind = 'HOLD'), 0)::bigint AS hold_entry_id
FROM holds h
WHERE h.hold_id = ANY (@hold_ids::bigint[])
ORDER BY h.hold_id
FOR UPDATE OF h;

-- name: StoredEntriesOfHolds :batchmany
-- read: entries the request ids of the batch's hold closings already produced.
SELECT sqlc.embed(e)
FROM (SELECT unnest(@hold_ids::bigint[]) AS hold_id, unnest(@request_ids::text[]) AS request_id) AS k
JOIN holds h ON h.hold_id = k.hold_id
JOIN entries e ON e.member_id = h.member_id AND e.request_id = k.request_id;

-- name: NextBatchIDs :batchone
-- read: ids for the entries, lots and holds the batch may write. Taken after the
-- member locks, so a member's entries are in id order.
SELECT ARRAY(SELECT nextval('entries_entry_id_seq'::regclass) FROM generate_series(1, @entries::int))::bigint[] AS entry_ids,
       ARRAY(SELECT nextval('lots_lot_id_seq'::regclass) FROM generate_series(1, @lots::int))::bigint[] AS lot_ids,
       ARRAY(SELECT nextval('holds_hold_id_seq'::regclass) FROM generate_series(1, @holds::int))::bigint[] AS hold_ids;

-- name: StoredEntriesOf :batchmany
-- read: entries the batch's request ids already produced (a repeat, or a reuse).
SELECT sqlc.embed(e)
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@request_ids::text[]) AS request_id) AS k
JOIN entries e ON e.member_id = k.member_id AND e.request_id = k.request_id;

-- name: OrdersEarnedOf :batchmany
-- read: which of the batch's orders already earned.
SELECT e.member_id, e.order_id::text AS order_id
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
JOIN entries e ON e.member_id = k.member_id AND e.order_id = k.order_id AND e.kind = 'EARN';

-- name: ReversalsOf :batchmany
-- read: which of the entries the batch reverses are reversed already.
SELECT reverses_entry_id::bigint AS entry_id FROM entries WHERE reverses_entry_id = ANY (@entry_ids::bigint[]);

-- name: OpenLotsOf :batchmany
-- read: the open lots of the members the batch debits.
SELECT lot_id, member_id, coalesce(origin_entry_id, 0)::bigint AS origin_entry_id, remaining, expire_time
FROM lots
WHERE member_id = ANY (@member_ids::text[]) AND remaining > 0
ORDER BY member_id, expire_time, lot_id;

-- name: RestorableLotsOf :batchmany
-- read: what the entries the batch gives back consumed from lots, and has not had
-- back yet, per lot. The entries given back and what the holds the batch closes
-- consumed are one array: an index condition on lot_moves_source_idx, where an OR
-- would walk lot_moves.
SELECT m.source_entry_id, m.lot_id, (-sum(m.points))::bigint AS restorable,
       l.member_id, l.remaining, l.expire_time, coalesce(l.origin_entry_id, 0)::bigint AS origin_entry_id
FROM lot_moves m
JOIN lots l ON l.lot_id = m.lot_id
WHERE m.source_entry_id = ANY (@source_entry_ids::bigint[] || ARRAY(SELECT e.entry_id FROM entries e WHERE e.hold_id = ANY (@hold_ids::bigint[]) AND e.kind = 'HOLD'))
GROUP BY m.source_entry_id, m.lot_id, l.member_id, l.remaining, l.expire_time, l.origin_entry_id
HAVING sum(m.points) < 0;

-- name: TierStatesOf :batchmany
-- read: the qualified tiers of the members whose tier the batch applies or moves.
SELECT member_id, tier_id, period_end, grace_end FROM member_tiers WHERE member_id = ANY (@member_ids::text[]);

-- name: MembershipsOf :batchmany
-- read: their paid memberships that have not ended by the instant (which of them
-- is active is tiers.Membership.ActiveAt's to say).
SELECT member_id, tier_id, start_time, end_time, cancel_time
FROM memberships
WHERE member_id = ANY (@member_ids::text[]) AND end_time > @after::timestamptz;

-- name: MetricsOf :batchmany
-- read: the qualifying metric of members over windows starting on the given days.
SELECT k.member_id::text AS member_id, k.window_start::date AS window_start,
       coalesce(sum(d.points), 0)::bigint AS points, coalesce(sum(d.spend_minor), 0)::bigint AS spend_minor
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@window_starts::date[]) AS window_start) AS k
LEFT JOIN tier_metric_days d ON d.member_id = k.member_id AND d.day >= k.window_start
GROUP BY k.member_id, k.window_start;

-- name: WriteBalances :batchexec
-- write: the members' balances as the batch leaves them. The ids again as an
-- index condition: joined with the unnest alone, a large batch was planned as a
-- hash join over every member's balance (144 ms for 5,000 of 300,000 members).
UPDATE member_balances AS b
SET available = u.available, pending = u.pending, held = u.held, last_entry_time = u.last_entry_time
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
            unnest(@available::bigint[]) AS available,
            unnest(@pending::bigint[]) AS pending,
            unnest(@held::bigint[]) AS held,
            unnest(@last_entry_times::timestamptz[]) AS last_entry_time) AS u
WHERE b.member_id = u.member_id AND b.member_id = ANY (@member_ids::text[]);

-- name: WriteEntries :batchexec
-- write: the batch's entries. Each entry's postings travel as two array literals
-- (accounts and amounts, ledger.postingArrays), cast per row: slicing one
-- flattened array per entry instead would walk it from its start for every entry,
-- quadratic in a bulk credit's chunk of thousands.
INSERT INTO entries (entry_id, member_id, kind, accounts, amounts, available_after, pending_after, held_after,
                     request_id, fingerprint, order_id, hold_id, reverses_entry_id, memo, actor_key_id,
                     reason_code, ticket_id, create_time)
OVERRIDING SYSTEM VALUE
SELECT u.entry_id, u.member_id, u.kind, u.accounts::text[], u.amounts::bigint[],
       u.available_after, u.pending_after, u.held_after, u.request_id, u.fingerprint, nullif(u.order_id, ''),
       nullif(u.hold_id, 0), nullif(u.reverses_entry_id, 0), u.memo, u.actor_key_id, nullif(u.reason_code, ''),
       nullif(u.ticket_id, ''), u.create_time
FROM (SELECT unnest(@entry_ids::bigint[]) AS entry_id,
            unnest(@member_ids::text[]) AS member_id,
            unnest(@kinds::text[]) AS kind,
            unnest(@accounts::text[]) AS accounts,
            unnest(@amounts::text[]) AS amounts,
            unnest(@available_after::bigint[]) AS available_after,
            unnest(@pending_after::bigint[]) AS pending_after,
            unnest(@held_after::bigint[]) AS held_after,
            unnest(@request_ids::text[]) AS request_id,
            unnest(@fingerprints::bytea[]) AS fingerprint,
            unnest(@order_ids::text[]) AS order_id,
            unnest(@hold_ids::bigint[]) AS hold_id,
            unnest(@reverses_entry_ids::bigint[]) AS reverses_entry_id,
            unnest(@memos::text[]) AS memo,
            unnest(@actor_key_ids::text[]) AS actor_key_id,
            unnest(@reason_codes::text[]) AS reason_code,
            unnest(@ticket_ids::text[]) AS ticket_id,
            unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: WriteNewLots :batchexec
-- write: the lots the batch opened, with what is left of them.
INSERT INTO lots (lot_id, member_id, entry_id, origin_entry_id, points, remaining, expire_time, create_time)
OVERRIDING SYSTEM VALUE
SELECT * FROM (SELECT unnest(@lot_ids::bigint[]) AS lot_ids,
            unnest(@member_ids::text[]) AS member_ids,
            unnest(@entry_ids::bigint[]) AS entry_ids,
            unnest(@origin_entry_ids::bigint[]) AS origin_entry_ids,
            unnest(@points::bigint[]) AS points,
            unnest(@remaining::bigint[]) AS remaining,
            unnest(@expire_times::timestamptz[]) AS expire_times,
            unnest(@create_times::timestamptz[]) AS create_times) AS u;

-- name: WriteLotsRemaining :batchexec
-- write: what is left of the older lots the batch moved (the ids again as an index
-- condition, as in WriteBalances: the join alone walked lots_pkey from its start).
UPDATE lots AS l SET remaining = u.remaining
FROM (SELECT unnest(@lot_ids::bigint[]) AS lot_id, unnest(@remaining::bigint[]) AS remaining) AS u
WHERE l.lot_id = u.lot_id AND l.lot_id = ANY (@lot_ids::bigint[]);

-- name: WriteLotMoves :batchexec
INSERT INTO lot_moves (member_id, lot_id, entry_id, source_entry_id, points)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_ids,
            unnest(@lot_ids::bigint[]) AS lot_ids,
            unnest(@entry_ids::bigint[]) AS entry_ids,
            unnest(@source_entry_ids::bigint[]) AS source_entry_ids,
            unnest(@points::bigint[]) AS points) AS u;

-- name: WritePendingReleases :batchexec
-- write: pending earnings, waiting for their release.
INSERT INTO pending_releases (entry_id, member_id, order_id, points, release_time, lot_expire_time)
SELECT * FROM (SELECT unnest(@entry_ids::bigint[]) AS entry_ids,
            unnest(@member_ids::text[]) AS member_ids,
            unnest(@order_ids::text[]) AS order_ids,
            unnest(@points::bigint[]) AS points,
            unnest(@release_times::timestamptz[]) AS release_times,
            unnest(@lot_expire_times::timestamptz[]) AS lot_expire_times) AS u;

-- name: WriteOrders :batchexec
-- write: orders' earnings, with the member's tier and perks at that moment, for
-- their refunds. An order only redeemed on may have its row already.
INSERT INTO orders (member_id, order_id, earn_entry_id, spend_minor, currency, earned_points,
                    tier_id, perks, metric_points, metric_spend, metric_day)
SELECT u.member_id, u.order_id, u.earn_entry_id, nullif(u.spend_minor, 0), u.currency, u.earned_points,
       nullif(u.tier_id, ''), nullif(u.perks, '')::jsonb, u.metric_points, u.metric_spend,
       CASE WHEN u.qualifies THEN u.metric_day END
FROM (SELECT unnest(@member_ids::text[]) AS member_id,
            unnest(@order_ids::text[]) AS order_id,
            unnest(@earn_entry_ids::bigint[]) AS earn_entry_id,
            unnest(@spend_minor::bigint[]) AS spend_minor,
            unnest(@currencies::text[]) AS currency,
            unnest(@earned_points::bigint[]) AS earned_points,
            unnest(@tier_ids::text[]) AS tier_id,
            unnest(@perks::text[]) AS perks,
            unnest(@metric_points::bigint[]) AS metric_points,
            unnest(@metric_spend::bigint[]) AS metric_spend,
            unnest(@qualifies::boolean[]) AS qualifies,
            unnest(@metric_days::date[]) AS metric_day) AS u
ON CONFLICT (member_id, order_id) DO UPDATE
    SET earn_entry_id = excluded.earn_entry_id, spend_minor = excluded.spend_minor,
        currency = excluded.currency, earned_points = excluded.earned_points,
        tier_id = excluded.tier_id, perks = excluded.perks, metric_points = excluded.metric_points,
        metric_spend = excluded.metric_spend, metric_day = excluded.metric_day;

-- name: WriteSystemDeltas :batchexec
-- write: the batch's system postings, one row per account, for the roll-up.
INSERT INTO system_deltas (account, amount)
SELECT * FROM (SELECT unnest(@accounts::text[]) AS accounts, unnest(@amounts::bigint[]) AS amounts) AS u;

-- name: WriteMetricMoves :batchexec
-- write: the moves of the qualifying metric, and their sums per member and day.
WITH moves AS (
    INSERT INTO tier_metric_moves (member_id, entry_id, order_id, day, points, spend_minor, create_time)
    SELECT u.member_id, nullif(u.entry_id, 0), nullif(u.order_id, ''), u.day, u.points, u.spend_minor, u.create_time
    FROM (SELECT unnest(@member_ids::text[]) AS member_id,
                unnest(@entry_ids::bigint[]) AS entry_id,
                unnest(@order_ids::text[]) AS order_id,
                unnest(@days::date[]) AS day,
                unnest(@points::bigint[]) AS points,
                unnest(@spend_minor::bigint[]) AS spend_minor,
                unnest(@create_times::timestamptz[]) AS create_time) AS u
    RETURNING member_id, day, points, spend_minor
)
INSERT INTO tier_metric_days AS d (member_id, day, points, spend_minor)
SELECT member_id, day, sum(points), sum(spend_minor) FROM moves GROUP BY member_id, day
ON CONFLICT (member_id, day) DO UPDATE
    SET points = d.points + excluded.points, spend_minor = d.spend_minor + excluded.spend_minor;

-- name: WriteUpgrades :batchexec
-- write: members upgraded by the batch's earnings, and the history of it.
WITH up AS (
    INSERT INTO member_tiers AS t (member_id, tier_id, period_end, grace_end, update_time)
    SELECT u.member_id, u.to_tier, u.period_end, NULL, u.create_time
    FROM (SELECT unnest(@member_ids::text[]) AS member_id,
                unnest(@to_tiers::text[]) AS to_tier,
                unnest(@period_ends::timestamptz[]) AS period_end,
                unnest(@create_times::timestamptz[]) AS create_time) AS u
    ON CONFLICT (member_id) DO UPDATE
        SET tier_id = excluded.tier_id, period_end = excluded.period_end, grace_end = NULL,
            update_time = excluded.update_time
)
INSERT INTO tier_history (member_id, from_tier, to_tier, reason, metric, period_end, policy_version, create_time)
SELECT * FROM (SELECT unnest(@history_member_ids::text[]) AS history_member_ids,
            unnest(@from_tiers::text[]) AS from_tiers,
            unnest(@history_to_tiers::text[]) AS history_to_tiers,
            unnest(@reasons::text[]) AS reasons,
            unnest(@metrics::bigint[]) AS metrics,
            unnest(@history_period_ends::timestamptz[]) AS history_period_ends,
            unnest(@policy_versions::bigint[]) AS policy_versions,
            unnest(@history_create_times::timestamptz[]) AS history_create_times) AS u;

-- name: WriteHoldsClosed :batchexec
-- write: the holds the batch captured or voided (the ids again as an index
-- condition, as in WriteBalances).
UPDATE holds AS h SET status = u.status, captured_points = u.captured_points
FROM (SELECT unnest(@hold_ids::bigint[]) AS hold_id, unnest(@statuses::text[]) AS status,
             unnest(@captured_points::bigint[]) AS captured_points) AS u
WHERE h.hold_id = u.hold_id AND h.hold_id = ANY (@hold_ids::bigint[]);

-- name: WriteNewHolds :batchexec
-- write: the holds the batch placed.
INSERT INTO holds (hold_id, member_id, points, order_id, create_time, expire_time)
OVERRIDING SYSTEM VALUE
SELECT u.hold_id, u.member_id, u.points, nullif(u.order_id, ''), u.create_time, u.expire_time
FROM (SELECT unnest(@hold_ids::bigint[]) AS hold_id, unnest(@member_ids::text[]) AS member_id,
             unnest(@points::bigint[]) AS points, unnest(@order_ids::text[]) AS order_id,
             unnest(@create_times::timestamptz[]) AS create_time, unnest(@expire_times::timestamptz[]) AS expire_time) AS u;

-- name: LockableMembers :many
-- Which of these members no other transaction holds now: a group-commit batch that
-- gave up waiting for a lock asks it, to send the held members' commands to wait
-- alone and run the others at once (ledger/committer.go). The rows are locked only
-- for this one statement.
SELECT member_id FROM member_balances
WHERE member_id = ANY (@member_ids::text[])
ORDER BY member_id
FOR UPDATE SKIP LOCKED;
