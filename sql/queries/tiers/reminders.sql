-- name: DowngradeCandidates :many
-- Members whose tier period (or grace) ends in a reminder window (from @after[i],
-- exclusive, to @until[i], of reminder day @days[i]; reminders.WindowsAt) and whose
-- reminder of that day was not decided yet, with the metric that will still count
-- when the period ends (as MemberStanding's metric_kept), at most @max_rows of them
-- (member_tiers_due_idx).
WITH w AS (
    SELECT unnest(sqlc.arg(after)::timestamptz[]) AS after, unnest(sqlc.arg(until)::timestamptz[]) AS until,
           unnest(sqlc.arg(days)::int[]) AS days_before
)
SELECT t.member_id, t.tier_id, t.due_time::timestamptz AS due_time, w.days_before::int AS days_before,
       coalesce((SELECT sum(CASE WHEN sqlc.arg(metric)::text = 'QUALIFYING_SPEND' THEN d.spend_minor ELSE d.points END)
                 FROM tier_metric_days d
                 WHERE d.member_id = t.member_id
                   AND d.day >= ((t.due_time AT TIME ZONE 'UTC')::date - sqlc.arg(window_days)::int + 1)), 0)::bigint AS metric_kept
FROM member_tiers t
JOIN w ON t.due_time > w.after AND t.due_time <= w.until
WHERE t.due_time IS NOT NULL AND t.tier_id <> sqlc.arg(bottom_tier_id)::text
  AND NOT EXISTS (SELECT 1 FROM downgrade_reminders r
                  WHERE r.member_id = t.member_id AND r.period_end = t.due_time AND r.days_before = w.days_before)
ORDER BY t.due_time, t.member_id
LIMIT sqlc.arg(max_rows);

-- name: RecordDowngradeReminders :exec
-- The reminders decided (keep_needed 0: the member was on track, nothing was sent).
INSERT INTO downgrade_reminders (member_id, period_end, days_before, tier_id, keep_needed, create_time)
SELECT u.member_id, u.period_end, u.days_before, u.tier_id, u.keep_needed, sqlc.arg(now)::timestamptz
FROM (SELECT unnest(sqlc.arg(member_ids)::text[]) AS member_id, unnest(sqlc.arg(period_ends)::timestamptz[]) AS period_end,
             unnest(sqlc.arg(days)::int[]) AS days_before, unnest(sqlc.arg(tier_ids)::text[]) AS tier_id,
             unnest(sqlc.arg(keep_needed)::bigint[]) AS keep_needed) AS u
ORDER BY u.member_id
ON CONFLICT DO NOTHING;
