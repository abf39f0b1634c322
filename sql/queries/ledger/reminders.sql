-- name: RemindExpiring :many
-- The expiry reminders due and not sent yet of the given members, recorded as
-- sent: for each member and expiry instant of its open lots, the points that expire
-- then, in the reminder window the expiry falls in (windows: from @after[i],
-- exclusive, to @until[i], of reminder day @days[i]; reminders.WindowsAt). The
-- members are a chunk of a sweeper's share (MembersWithLotsExpiringIn): only their
-- lots are read.
WITH w AS (
    SELECT unnest(sqlc.arg(after)::timestamptz[]) AS after, unnest(sqlc.arg(until)::timestamptz[]) AS until,
           unnest(sqlc.arg(days)::int[]) AS days_before
), due AS (
    SELECT m.member_id, l.expire_time, w.days_before, sum(l.remaining)::bigint AS points
    FROM unnest(sqlc.arg(member_ids)::text[]) AS m(member_id)
    -- An index probe a member: OFFSET 0 keeps the planner from joining the
    -- members with a scan of every lot, which it costs lower for 5,000 members.
    CROSS JOIN LATERAL (SELECT l.expire_time, l.remaining FROM lots l
                        WHERE l.member_id = m.member_id AND l.remaining > 0 OFFSET 0) l
    JOIN w ON l.expire_time > w.after AND l.expire_time <= w.until
    GROUP BY m.member_id, l.expire_time, w.days_before
), sent AS (
    -- A reminder already sent is its primary key's conflict: not inserted, not
    -- returned (a probe of that index whatever the table's statistics say).
    INSERT INTO expiry_reminders (member_id, expire_time, days_before, points, create_time)
    SELECT d.member_id, d.expire_time, d.days_before, d.points, sqlc.arg(now)::timestamptz FROM due d
    ORDER BY d.member_id, d.expire_time
    ON CONFLICT DO NOTHING
    RETURNING member_id, expire_time, days_before, points
)
-- In member order, as the events are written.
SELECT member_id, expire_time, days_before, points FROM sent ORDER BY member_id, expire_time, days_before;
