-- name: ListMemberLots :many
-- The member's lots, open ones first by consumption order, then spent ones newest
-- first.
SELECT * FROM lots
WHERE member_id = @member_id AND (@include_spent::boolean OR remaining > 0)
ORDER BY remaining = 0, CASE WHEN remaining > 0 THEN expire_time END, lot_id DESC
LIMIT @max_lots;

-- name: LotMovesOfEntry :many
SELECT * FROM lot_moves WHERE entry_id = $1 ORDER BY points < 0 DESC, lot_id;

-- name: MembersWithLotsExpiringIn :many
-- Members owning open lots that expire in (@after, @until] (due lots: from the zero
-- time to now), in member order, of the share (@after_member, @upto] (sweepShare):
-- each sweeper of the expiry job and of the reminders takes its own range of
-- members, and picks up where its last chunk ended instead of walking again over
-- the index entries of the lots it did. One range of lots_open_idx, read no further
-- than @max_members members.
SELECT DISTINCT member_id FROM lots
WHERE remaining > 0 AND expire_time > @after AND expire_time <= @until
  AND member_id > @after_member::text AND member_id <= @upto::text
ORDER BY member_id
LIMIT @max_members;

-- name: CountLotsExpiringIn :one
-- How many open lots expire in (@after, @until]: what the sweepers' shares split.
SELECT count(*)::bigint FROM lots WHERE remaining > 0 AND expire_time > @after AND expire_time <= @until;

-- name: MemberOfLotExpiringIn :one
-- The member of the @n-th (from 0) open lot expiring in (@after, @until], in member
-- order: where a sweeper's share ends.
SELECT member_id FROM lots WHERE remaining > 0 AND expire_time > @after AND expire_time <= @until
ORDER BY member_id OFFSET @n LIMIT 1;

-- name: LastMemberWithLotExpiringIn :one
-- The last member, in member order, owning an open lot expiring in (@after, @until].
SELECT member_id FROM lots WHERE remaining > 0 AND expire_time > @after AND expire_time <= @until
ORDER BY member_id DESC LIMIT 1;

-- name: VerifyLotsMatchAvailable :many
-- A member's open lots hold exactly max(available, 0).
SELECT b.member_id, b.available, coalesce(l.remaining, 0)::bigint AS lot_points
FROM member_balances b
LEFT JOIN (SELECT member_id, sum(remaining)::bigint AS remaining FROM lots WHERE remaining > 0 GROUP BY member_id) l
    ON l.member_id = b.member_id
WHERE greatest(b.available, 0) <> coalesce(l.remaining, 0)
ORDER BY b.member_id
LIMIT 100;

-- name: VerifyLotMoves :many
-- A lot's remaining points are its points plus its moves.
SELECT l.lot_id, l.member_id, l.remaining, (l.points + coalesce(m.moved, 0))::bigint AS expected
FROM lots l
LEFT JOIN (SELECT lot_id, sum(points)::bigint AS moved FROM lot_moves GROUP BY lot_id) m ON m.lot_id = l.lot_id
WHERE l.remaining <> l.points + coalesce(m.moved, 0)
ORDER BY l.lot_id
LIMIT 100;

-- name: LiabilityByExpiryMonth :many
-- Outstanding points by the month they expire in (in the given time zone): what is
-- left of open lots (available) and what pending earnings will open when released.
-- Points expiring at 00:00 on the 1st (the end of a month) belong to the month that
-- just ended, the last in which they can be used.
SELECT month, sum(available)::bigint AS available, sum(pending)::bigint AS pending
FROM (
    SELECT to_char((expire_time - interval '1 microsecond') AT TIME ZONE @time_zone::text, 'YYYY-MM') AS month,
           remaining AS available, 0::bigint AS pending
    FROM lots WHERE remaining > 0
    UNION ALL
    SELECT to_char((lot_expire_time - interval '1 microsecond') AT TIME ZONE @time_zone::text, 'YYYY-MM'), 0, points
    FROM pending_releases WHERE NOT released
) x
GROUP BY month
ORDER BY month;

-- name: LiabilityTotals :one
SELECT coalesce(sum(greatest(available, 0)), 0)::bigint AS available,
       coalesce(sum(least(available, 0)), 0)::bigint AS debt,
       coalesce(sum(pending), 0)::bigint AS pending,
       coalesce(sum(held), 0)::bigint AS held,
       count(*) FILTER (WHERE available < 0)::bigint AS members_in_debt
FROM member_balances;

-- name: GetBalanceWithExpiring :one
-- The member's balances and the next expiring points by expiry instant, in one read.
SELECT b.available, b.pending, b.held,
       coalesce(x.times, '{}')::timestamptz[] AS expire_times,
       coalesce(x.points, '{}')::bigint[] AS expire_points
FROM member_balances b
LEFT JOIN LATERAL (
    SELECT array_agg(y.expire_time ORDER BY y.expire_time) AS times, array_agg(y.points ORDER BY y.expire_time) AS points
    FROM (
        SELECT l.expire_time, sum(l.remaining)::bigint AS points
        FROM lots l
        WHERE l.member_id = b.member_id AND l.remaining > 0
        GROUP BY l.expire_time
        ORDER BY l.expire_time
        LIMIT @max_dates
    ) y
) x ON true
WHERE b.member_id = @member_id;

-- name: LockMember :many
-- The member's row locked in a caller's transaction, first, as every batch of the
-- write path locks it before anything else (a compensation, before the budgets).
SELECT member_id FROM member_balances WHERE member_id = $1 FOR UPDATE;
