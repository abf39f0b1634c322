-- Referrals (campaigns/referral.go). Recorded in a transaction of their own under
-- both members' balance row locks (taken in member order, as the ledger's batches
-- take them); settled in the ledger's batch (campaigns/referral_batch.go), under
-- the same locks.

-- name: LockReferralMembers :many
-- Both members' balance rows, locked in member order: an earning of the referred
-- member (its first order) and a payout wait for the recording, and it for them.
SELECT member_id FROM member_balances WHERE member_id = ANY (@member_ids::text[])
ORDER BY member_id
FOR UPDATE;

-- name: ReferralOf :one
SELECT * FROM referrals WHERE referred_member_id = @referred_member_id;

-- name: ReferralByRequest :one
SELECT * FROM referrals WHERE referrer_member_id = @referrer_member_id AND request_id = @request_id;

-- name: HasOrderEarning :one
-- Whether the member earned on an order already (its first order is behind it).
SELECT EXISTS (SELECT 1 FROM orders WHERE member_id = @member_id AND earn_entry_id IS NOT NULL)::bool;

-- name: InsertReferral :one
INSERT INTO referrals (referred_member_id, referrer_member_id, request_id, fingerprint, actor_key_id, create_time)
VALUES (@referred_member_id, @referrer_member_id, @request_id, @fingerprint, @actor_key_id, @create_time)
RETURNING *;

-- name: ListReferrals :many
-- A referrer's referrals, newest first, after the page token's (create time, referred member).
SELECT * FROM referrals
WHERE referrer_member_id = @referrer_member_id
  AND (sqlc.narg(before_time)::timestamptz IS NULL
       OR (create_time, referred_member_id) < (sqlc.narg(before_time)::timestamptz, @before_member_id::text))
ORDER BY create_time DESC, referred_member_id DESC
LIMIT @max_rows;

-- name: DueReferrals :many
-- The job's candidates: pending referrals whose referred member's first order
-- (the earning of the lowest entry id) left its return window: released, or
-- earned without one (no pending row), or voided to nothing by refunds inside it
-- (a refund that takes the last pending point marks the row released with 0).
-- The batch decides each again under the members' locks.
SELECT r.referred_member_id, r.referrer_member_id, f.earn_entry_id AS first_entry_id,
       (p.entry_id IS NOT NULL AND p.points = 0)::bool AS voided
FROM referrals r
CROSS JOIN LATERAL (
    SELECT o.earn_entry_id FROM orders o
    WHERE o.member_id = r.referred_member_id AND o.earn_entry_id IS NOT NULL
    ORDER BY o.earn_entry_id LIMIT 1
) f
LEFT JOIN pending_releases p ON p.entry_id = f.earn_entry_id
WHERE r.status = 'PENDING'
  AND (p.entry_id IS NULL OR p.released OR p.points = 0)
ORDER BY r.create_time, r.referred_member_id
LIMIT @max_rows;

-- name: VoidReferral :execrows
-- A referral whose first order was refunded inside its window: it pays nothing.
UPDATE referrals SET status = 'VOID', first_entry_id = @first_entry_id, settle_time = @now
WHERE referred_member_id = @referred_member_id AND status = 'PENDING';

-- name: ReferralsOfClaims :batchmany
-- read: the referrals of a batch's claims, under the members' locks.
SELECT * FROM referrals WHERE referred_member_id = ANY (@referred_member_ids::text[]);

-- name: PaidReferralsOf :batchmany
-- read: the PAID referrals of the claims' referrers since an instant (the start
-- of the month the monthly cap counts).
SELECT referrer_member_id, campaign_id, settle_time FROM referrals
WHERE referrer_member_id = ANY (@referrer_member_ids::text[]) AND status = 'PAID' AND settle_time >= @since;

-- name: SettleReferrals :batchexec
-- write: the referrals the batch settled.
UPDATE referrals r SET status = u.status, campaign_id = u.campaign_id, referrer_points = u.referrer_points,
    referred_points = u.referred_points, referrer_entry_id = nullif(u.referrer_entry_id, 0),
    referred_entry_id = nullif(u.referred_entry_id, 0), first_entry_id = u.first_entry_id, settle_time = u.settle_time
FROM (SELECT unnest(@referred_member_ids::text[]) AS referred_member_id, unnest(@statuses::text[]) AS status,
             unnest(@campaign_ids::text[]) AS campaign_id, unnest(@referrer_points::bigint[]) AS referrer_points,
             unnest(@referred_points::bigint[]) AS referred_points, unnest(@referrer_entry_ids::bigint[]) AS referrer_entry_id,
             unnest(@referred_entry_ids::bigint[]) AS referred_entry_id, unnest(@first_entry_ids::bigint[]) AS first_entry_id,
             unnest(@settle_times::timestamptz[]) AS settle_time) AS u
WHERE r.referred_member_id = u.referred_member_id AND r.status = 'PENDING';
