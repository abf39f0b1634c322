-- name: CouponAllowanceSetting :one
SELECT * FROM coupon_allowance_settings WHERE only_row;

-- name: PutCouponAllowanceSetting :one
INSERT INTO coupon_allowance_settings (only_row, campaign_id, actor_key_id, update_time)
VALUES (true, @campaign_id, @actor_key_id, @update_time)
ON CONFLICT (only_row) DO UPDATE SET campaign_id = EXCLUDED.campaign_id, actor_key_id = EXCLUDED.actor_key_id,
    update_time = EXCLUDED.update_time
RETURNING *;

-- name: ClearCouponAllowanceSetting :exec
DELETE FROM coupon_allowance_settings WHERE only_row;

-- name: AllowanceCandidates :many
-- Members after @after (in member id order) without a cycle dealt with that is
-- still running at @now: candidates, not answers (the job computes the cycle).
SELECT m.member_id FROM members m
WHERE m.member_id > @after::text
  AND NOT EXISTS (SELECT 1 FROM coupon_allowance_cycles c WHERE c.member_id = m.member_id AND c.cycle_end > @now)
ORDER BY m.member_id
LIMIT @max_members;

-- name: ClaimAllowanceCycle :execrows
-- Claims a member's cycle for this transaction: no row when another run has dealt
-- with it (or is dealing with it: the insert waits for that one's commit).
INSERT INTO coupon_allowance_cycles (member_id, cycle_start, cycle_end, tier_id, campaign_id, coupons, issue_time)
VALUES (@member_id, @cycle_start, @cycle_end, @tier_id, @campaign_id, 0, @issue_time)
ON CONFLICT (member_id, cycle_start) DO NOTHING;

-- name: SetAllowanceCycleCoupons :exec
UPDATE coupon_allowance_cycles SET coupons = @coupons WHERE member_id = @member_id AND cycle_start = @cycle_start;

-- name: AllowanceCycle :one
SELECT * FROM coupon_allowance_cycles WHERE member_id = @member_id AND cycle_start = @cycle_start;
