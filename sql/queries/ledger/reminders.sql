-- name: RemindExpiring :many
-- The expiry reminders due and not sent yet, recorded as sent: for each member and
-- expiry instant of its open lots, the points that expire then, in the reminder
-- window the expiry falls in (windows: from @after[i], exclusive, to @until[i], of
-- reminder day @days[i]; reminders.WindowsAt). At most @max_rows
-- of them, of the members from @from_member to @upto (member order, a sweeper's
-- share: sweepShare); the next call, from the last member sent, sends the rest.
WITH w AS (
    SELECT unnest(sqlc.arg(after)::timestamptz[]) AS after, unnest(sqlc.arg(until)::timestamptz[]) AS until,
           unnest(sqlc.arg(days)::int[]) AS days_before
), due AS (
    SELECT l.member_id, l.expire_time, w.days_before, sum(l.remaining)::bigint AS points
    FROM lots l JOIN w ON l.expire_time > w.after AND l.expire_time <= w.until
    WHERE l.remaining > 0 AND l.member_id >= sqlc.arg(from_member)::text AND l.member_id <= sqlc.arg(upto)::text
    GROUP BY l.member_id, l.expire_time, w.days_before
), unsent AS (
    SELECT d.* FROM due d
    WHERE NOT EXISTS (SELECT 1 FROM expiry_reminders r
                      WHERE r.member_id = d.member_id AND r.expire_time = d.expire_time AND r.days_before = d.days_before)
    ORDER BY d.member_id, d.expire_time
    LIMIT sqlc.arg(max_rows)
), sent AS (
    INSERT INTO expiry_reminders (member_id, expire_time, days_before, points, create_time)
    SELECT u.member_id, u.expire_time, u.days_before, u.points, sqlc.arg(now)::timestamptz FROM unsent u
    ORDER BY u.member_id, u.expire_time
    ON CONFLICT DO NOTHING
    RETURNING member_id, expire_time, days_before, points
)
-- In member order: the last row is where the next call starts.
SELECT member_id, expire_time, days_before, points FROM sent ORDER BY member_id, expire_time, days_before;
