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
    SELECT l.member_id, l.expire_time, w.days_before, sum(l.remaining)::bigint AS points
    FROM unnest(sqlc.arg(member_ids)::text[]) AS m(member_id)
    JOIN lots l ON l.member_id = m.member_id
    JOIN w ON l.expire_time > w.after AND l.expire_time <= w.until
    WHERE l.remaining > 0
    GROUP BY l.member_id, l.expire_time, w.days_before
), unsent AS (
    SELECT d.* FROM due d
    WHERE NOT EXISTS (SELECT 1 FROM expiry_reminders r
                      WHERE r.member_id = d.member_id AND r.expire_time = d.expire_time AND r.days_before = d.days_before)
), sent AS (
    INSERT INTO expiry_reminders (member_id, expire_time, days_before, points, create_time)
    SELECT u.member_id, u.expire_time, u.days_before, u.points, sqlc.arg(now)::timestamptz FROM unsent u
    ORDER BY u.member_id, u.expire_time
    ON CONFLICT DO NOTHING
    RETURNING member_id, expire_time, days_before, points
)
-- In member order, as the events are written.
SELECT member_id, expire_time, days_before, points FROM sent ORDER BY member_id, expire_time, days_before;
