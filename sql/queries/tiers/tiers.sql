-- name: CurrentPolicy :one
SELECT * FROM tier_policies ORDER BY version DESC LIMIT 1;

-- name: InsertPolicy :one
INSERT INTO tier_policies (policy, actor_key_id, create_time) VALUES (@policy, @actor_key_id, @create_time) RETURNING *;

-- name: MemberTierAt :many
-- A member's standing at an instant, in one read: the join time, the qualified
-- tier, and one row per paid membership not over by then (a member without one:
-- one row, its membership columns null; an unknown member: no row). Which of them
-- is active is tiers.Membership.ActiveAt's to say: end_time > @at only bounds the
-- read, on memberships_member_idx.
SELECT m.member_id, m.join_time, t.tier_id,
       ms.tier_id AS paid_tier_id, ms.start_time AS paid_start_time, ms.end_time AS paid_end_time,
       ms.cancel_time AS paid_cancel_time
FROM members m
LEFT JOIN member_tiers t ON t.member_id = m.member_id
LEFT JOIN memberships ms ON ms.member_id = m.member_id AND ms.end_time > @at
WHERE m.member_id = @member_id
ORDER BY ms.membership_id;

-- name: MemberStanding :many
-- Everything the perks answer needs, in one read: the member, the qualified tier
-- and its period, the metric over the window, the part of it still counted when
-- the tier's period (or grace) ends, and one row per paid membership not over at
-- @at (as in MemberTierAt: the membership columns are null for a member without
-- one, ActiveAt decides which are active). The member's part is materialised so
-- that its sums are computed once, not once per membership.
WITH s AS MATERIALIZED (
    SELECT m.member_id, m.join_time, t.tier_id, t.period_end, t.grace_end,
           coalesce((SELECT sum(CASE WHEN @metric::text = 'QUALIFYING_SPEND' THEN d.spend_minor ELSE d.points END)
                     FROM tier_metric_days d
                     WHERE d.member_id = m.member_id AND d.day >= @window_start::date), 0)::bigint AS metric,
           coalesce((SELECT sum(CASE WHEN @metric::text = 'QUALIFYING_SPEND' THEN d.spend_minor ELSE d.points END)
                     FROM tier_metric_days d
                     WHERE d.member_id = m.member_id
                       AND d.day >= ((coalesce(t.grace_end, t.period_end) AT TIME ZONE 'UTC')::date - sqlc.arg(window_days)::int + 1)), 0)::bigint AS metric_kept
    FROM members m
    LEFT JOIN member_tiers t ON t.member_id = m.member_id
    WHERE m.member_id = @member_id
)
SELECT s.member_id, s.join_time, s.tier_id, s.period_end, s.grace_end, s.metric, s.metric_kept,
       ms.membership_id, ms.request_id AS paid_request_id, ms.tier_id AS paid_tier_id,
       ms.start_time AS paid_start_time, ms.end_time AS paid_end_time, ms.cancel_time AS paid_cancel_time,
       ms.order_id AS paid_order_id, ms.create_time AS paid_create_time
FROM s
LEFT JOIN memberships ms ON ms.member_id = s.member_id AND ms.end_time > @at::timestamptz
ORDER BY ms.membership_id;

-- name: ListMemberships :many
SELECT * FROM memberships WHERE member_id = @member_id ORDER BY membership_id DESC LIMIT 100;

-- name: MembershipByRequest :one
SELECT * FROM memberships WHERE member_id = @member_id AND request_id = @request_id;

-- name: InsertMembership :one
INSERT INTO memberships (member_id, request_id, fingerprint, tier_id, start_time, end_time, order_id, actor_key_id, create_time)
VALUES (@member_id, @request_id, @fingerprint, @tier_id, @start_time, @end_time, sqlc.narg(order_id), @actor_key_id, @create_time)
RETURNING *;

-- name: LockMembership :one
SELECT * FROM memberships WHERE member_id = @member_id AND membership_id = @membership_id FOR UPDATE;

-- name: CancelMembership :one
UPDATE memberships SET cancel_time = @cancel_time, ended = true
WHERE membership_id = @membership_id
RETURNING *;

-- name: EndingMemberships :many
-- Memberships whose period is over and whose end is not in the history yet.
SELECT * FROM memberships WHERE NOT ended AND end_time <= @now ORDER BY end_time LIMIT @max_rows
FOR UPDATE SKIP LOCKED;

-- name: MarkMembershipEnded :exec
UPDATE memberships SET ended = true WHERE membership_id = @membership_id;

-- name: LockMember :one
-- The member lock: the balance row, which every write of the member's points also
-- locks, so a tier evaluation never interleaves with a qualifying earning.
SELECT member_id FROM member_balances WHERE member_id = @member_id FOR UPDATE;

-- name: GetMemberTier :one
SELECT * FROM member_tiers WHERE member_id = @member_id;

-- name: MetricSince :one
SELECT coalesce(sum(CASE WHEN @metric::text = 'QUALIFYING_SPEND' THEN spend_minor ELSE points END), 0)::bigint
FROM tier_metric_days
WHERE member_id = @member_id AND day >= @window_start::date;

-- name: UpsertMemberTier :exec
INSERT INTO member_tiers (member_id, tier_id, period_end, grace_end, update_time)
VALUES (@member_id, @tier_id, sqlc.narg(period_end), sqlc.narg(grace_end), @update_time)
ON CONFLICT (member_id) DO UPDATE
SET tier_id = excluded.tier_id, period_end = excluded.period_end, grace_end = excluded.grace_end,
    update_time = excluded.update_time;

-- name: DueMembers :many
SELECT member_id FROM member_tiers WHERE due_time <= @now ORDER BY due_time LIMIT @max_rows;

-- name: InsertTierChange :exec
INSERT INTO tier_history (member_id, from_tier, to_tier, reason, metric, period_end, grace_end, membership_id,
                          policy_version, create_time)
VALUES (@member_id, @from_tier, @to_tier, @reason, @metric, sqlc.narg(period_end), sqlc.narg(grace_end),
        sqlc.narg(membership_id), @policy_version, @create_time);

-- name: ListTierHistory :many
-- Newest first, keyset-paginated by change id.
SELECT * FROM tier_history
WHERE member_id = @member_id AND change_id < @before_change_id
ORDER BY change_id DESC
LIMIT @page_size;

-- name: MemberExists :one
SELECT join_time FROM members WHERE member_id = @member_id;

-- name: EntitlementUse :one
SELECT * FROM entitlement_uses WHERE member_id = @member_id AND perk = @perk AND request_id = @request_id;

-- name: EntitlementUsed :one
SELECT coalesce((SELECT used FROM entitlement_cycles
                 WHERE member_id = @member_id AND perk = @perk AND cycle_start = @cycle_start), 0)::int;

-- name: TakeEntitlement :one
-- One more use in the cycle, unless the quota is reached: the conditional update
-- runs on the latest version of the row, so racing consumes never exceed it. No
-- row comes back when the quota is used up.
INSERT INTO entitlement_cycles AS c (member_id, perk, cycle_start, used)
VALUES (@member_id, @perk, @cycle_start, 1)
ON CONFLICT (member_id, perk, cycle_start) DO UPDATE SET used = c.used + 1
WHERE c.used < @quota::int
RETURNING used;

-- name: InsertEntitlementUse :one
INSERT INTO entitlement_uses (member_id, perk, request_id, fingerprint, order_id, tier_id, quota, used_after,
                              cycle_start, cycle_end, actor_key_id, use_time)
VALUES (@member_id, @perk, @request_id, @fingerprint, sqlc.narg(order_id), @tier_id, @quota, @used_after,
        @cycle_start, @cycle_end, @actor_key_id, @use_time)
RETURNING *;
