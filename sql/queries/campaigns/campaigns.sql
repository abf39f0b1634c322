-- name: InsertCampaign :one
INSERT INTO campaigns (campaign_id, display_name, type, status, start_local, end_local, time_zone, start_time, end_time,
                       eligible_tiers, rule, body, budget_points, budget_coupons, cap_points, cap_coupons, request_id,
                       actor_key_id, create_time, update_time)
VALUES (@campaign_id, @display_name, @type, 'DRAFT', @start_local, @end_local, @time_zone, sqlc.narg(start_time),
        sqlc.narg(end_time), @eligible_tiers, @rule, @body, sqlc.narg(budget_points), sqlc.narg(budget_coupons),
        sqlc.narg(cap_points), sqlc.narg(cap_coupons), @request_id, @actor_key_id, @now, @now)
RETURNING *;

-- name: InsertBudgetSlices :exec
-- The campaign's budget split into slices: slice i gets the i-th of the budgets
-- given (NULL where unbounded).
INSERT INTO campaign_budget_slices (campaign_id, slice, budget_points, budget_coupons)
SELECT @campaign_id, i - 1,
       CASE WHEN @bounded_points::boolean THEN (@budget_points::bigint[])[i] END,
       CASE WHEN @bounded_coupons::boolean THEN (@budget_coupons::bigint[])[i] END
FROM generate_series(1, @slices::int) AS i;

-- name: CampaignByRequest :one
SELECT sqlc.embed(c), s.spent_points, s.issued_coupons, s.grants
FROM campaigns c
CROSS JOIN LATERAL (
    SELECT coalesce(sum(b.spent_points), 0)::bigint AS spent_points, coalesce(sum(b.issued_coupons), 0)::bigint AS issued_coupons,
           coalesce(sum(b.grants), 0)::bigint AS grants
    FROM campaign_budget_slices b WHERE b.campaign_id = c.campaign_id
) AS s
WHERE c.request_id = @request_id;

-- name: GetCampaign :one
-- A campaign with its counters, summed over its budget slices.
SELECT sqlc.embed(c), s.spent_points, s.issued_coupons, s.grants
FROM campaigns c
CROSS JOIN LATERAL (
    SELECT coalesce(sum(b.spent_points), 0)::bigint AS spent_points, coalesce(sum(b.issued_coupons), 0)::bigint AS issued_coupons,
           coalesce(sum(b.grants), 0)::bigint AS grants
    FROM campaign_budget_slices b WHERE b.campaign_id = c.campaign_id
) AS s
WHERE c.campaign_id = @campaign_id;

-- name: ListCampaigns :many
-- Newest first, keyset-paginated by creation order, filtered by the status at @now
-- (the schedule decides, whether or not the job has written it down yet).
SELECT sqlc.embed(c), s.spent_points, s.issued_coupons, s.grants
FROM campaigns c
CROSS JOIN LATERAL (
    SELECT coalesce(sum(b.spent_points), 0)::bigint AS spent_points, coalesce(sum(b.issued_coupons), 0)::bigint AS issued_coupons,
           coalesce(sum(b.grants), 0)::bigint AS grants
    FROM campaign_budget_slices b WHERE b.campaign_id = c.campaign_id
) AS s
WHERE c.seq < @before_seq
  AND (@status::text = '' OR
       CASE WHEN c.status IN ('DRAFT', 'PAUSED', 'ENDED') THEN c.status
            WHEN c.end_time IS NOT NULL AND @now::timestamptz >= c.end_time THEN 'ENDED'
            WHEN c.start_time IS NOT NULL AND @now::timestamptz < c.start_time THEN 'SCHEDULED'
            ELSE 'ACTIVE' END = @status::text)
ORDER BY c.seq DESC
LIMIT @page_size;

-- name: SetCampaignStatus :one
-- Moves a campaign to a status if it is in one of @from, answering the status it
-- left and its schedule; no row otherwise.
WITH old AS (
    SELECT x.campaign_id, x.status FROM campaigns x
    WHERE x.campaign_id = sqlc.arg(campaign_id)::text AND x.status = ANY (sqlc.arg(from_statuses)::text[])
    FOR UPDATE
)
UPDATE campaigns c SET status = sqlc.arg(status)::text, update_time = sqlc.arg(now)::timestamptz
FROM old WHERE c.campaign_id = old.campaign_id
RETURNING old.status::text AS from_status, c.start_time, c.end_time;

-- name: RunningCampaigns :many
-- Campaigns that apply now or will by the schedule: what earnings and events look at.
SELECT * FROM campaigns
WHERE status IN ('SCHEDULED', 'ACTIVE') AND (end_time IS NULL OR end_time > @now)
ORDER BY seq;

-- name: StartDueCampaigns :many
-- The campaigns whose start came, moved to ACTIVE (they were SCHEDULED), with when
-- they were last moved before.
WITH old AS (
    SELECT x.campaign_id, x.update_time FROM campaigns x
    WHERE x.status = 'SCHEDULED' AND (x.start_time IS NULL OR x.start_time <= sqlc.arg(now)::timestamptz)
    ORDER BY x.campaign_id
    FOR UPDATE
)
UPDATE campaigns c SET status = 'ACTIVE', update_time = sqlc.arg(now)::timestamptz
FROM old WHERE c.campaign_id = old.campaign_id
RETURNING c.campaign_id, c.start_time, old.update_time AS moved_time;

-- name: EndDueCampaigns :many
-- The campaigns whose end came, moved to ENDED, with the status each left, its
-- schedule and when it was last moved before.
WITH old AS (
    SELECT x.campaign_id, x.status, x.update_time FROM campaigns x
    WHERE x.status IN ('SCHEDULED', 'ACTIVE', 'PAUSED') AND x.end_time <= sqlc.arg(now)::timestamptz
    ORDER BY x.campaign_id
    FOR UPDATE
)
UPDATE campaigns c SET status = 'ENDED', update_time = sqlc.arg(now)::timestamptz
FROM old WHERE c.campaign_id = old.campaign_id
RETURNING c.campaign_id, old.status::text AS from_status, c.start_time, c.end_time, old.update_time AS moved_time;

-- name: CampaignMember :one
SELECT coalesce(sum(cm.points), 0)::bigint AS points, coalesce(sum(cm.coupons), 0)::int AS coupons
FROM campaign_members cm
WHERE cm.campaign_id = @campaign_id AND cm.member_id = @member_id;

-- name: MemberJoinTime :one
SELECT join_time FROM members WHERE member_id = @member_id;

-- name: InsertCoupon :one
INSERT INTO coupons (code, member_id, campaign_id, request_id, kind, amount_off_minor, percent_off, min_spend_minor,
                     status, issue_time, valid_until, event_order_id, event_type)
VALUES (@code, @member_id, @campaign_id, @request_id, @kind, @amount_off_minor, @percent_off, @min_spend_minor,
        'ISSUED', @issue_time, @valid_until, sqlc.narg(event_order_id), sqlc.narg(event_type))
RETURNING *;

-- name: CouponByRequest :one
SELECT * FROM coupons WHERE member_id = @member_id AND request_id = @request_id;

-- name: GetCoupon :one
SELECT * FROM coupons WHERE code = @code;

-- name: LockCoupon :one
SELECT * FROM coupons WHERE code = @code FOR UPDATE;

-- name: RedeemCoupon :one
UPDATE coupons SET status = 'REDEEMED', redeem_time = @now, redeem_order_id = @order_id, redeem_request_id = @request_id
WHERE code = @code
RETURNING *;

-- name: RevokeCoupon :one
UPDATE coupons SET status = 'REVOKED', revoke_time = @now WHERE code = @code RETURNING *;

-- name: ListMemberCoupons :many
SELECT * FROM coupons
WHERE member_id = @member_id AND (@before_code::text = '' OR (issue_time, code) < (@before_time::timestamptz, @before_code::text))
ORDER BY issue_time DESC, code DESC
LIMIT @page_size;

-- The budgets and caps of campaigns, as every grant and give-back reads and writes
-- them (campaigns/budgets.go): read under lock (with the ledger batch's other reads,
-- for earnings), taken from or given back to in Go, written back (with the batch's
-- other writes, for earnings).

-- name: EnsureCampaignUses :batchexec
-- read: a row for each (campaign, member) pair first, so that the lock below
-- also covers a pair whose first grant races in.
INSERT INTO campaign_members (campaign_id, member_id)
SELECT * FROM (SELECT unnest(@campaign_ids::text[]) AS campaign_ids,
            unnest(@member_ids::text[]) AS member_ids) AS u
ORDER BY 1, 2
ON CONFLICT DO NOTHING;

-- name: LockCampaignUses :batchmany
-- read: what those members got from those campaigns so far, locked.
SELECT cm.campaign_id, cm.member_id, cm.points, cm.coupons
FROM campaign_members cm
JOIN (SELECT unnest(@campaign_ids::text[]) AS campaign_id, unnest(@member_ids::text[]) AS member_id) AS k
    ON cm.campaign_id = k.campaign_id AND cm.member_id = k.member_id
ORDER BY cm.campaign_id, cm.member_id
FOR UPDATE OF cm;

-- name: CampaignUsesOf :batchmany
-- read: what those members got from those campaigns so far, without a lock (the
-- ledger's batches, under the members' row locks; see readBudgets).
SELECT cm.campaign_id, cm.member_id, cm.points, cm.coupons
FROM campaign_members cm
JOIN (SELECT unnest(@campaign_ids::text[]) AS campaign_id, unnest(@member_ids::text[]) AS member_id) AS k
    ON cm.campaign_id = k.campaign_id AND cm.member_id = k.member_id
ORDER BY cm.campaign_id, cm.member_id;

-- name: LockCampaignBudgets :batchmany
-- read: the campaigns as they stand (a pause or an end since the cache was read
-- refuses), with their budget slices, locked in a fixed order, and how many slices
-- each has. With lanes > 1, only the slices of one lane (slice modulo lanes =
-- lane) are locked, so batches of different lanes never wait for each other's; a
-- campaign with fewer slices than lanes has all of them locked.
SELECT c.campaign_id, c.status, c.start_time, c.end_time, c.cap_points, c.cap_coupons,
       s.slice, s.budget_points, s.budget_coupons, s.spent_points, s.issued_coupons, s.grants,
       n.slice_count
FROM campaigns c
JOIN campaign_budget_slices s ON s.campaign_id = c.campaign_id
CROSS JOIN LATERAL (SELECT count(*)::int AS slice_count FROM campaign_budget_slices x WHERE x.campaign_id = c.campaign_id) n
WHERE c.campaign_id = ANY (@campaign_ids::text[])
  AND (@lanes::int <= 1 OR n.slice_count < @lanes::int OR s.slice % @lanes::int = @lane::int)
ORDER BY c.campaign_id, s.slice
FOR UPDATE OF s;

-- name: ExhaustedCampaignsOf :batchmany
-- read (after the slices' locks, so that it sees what the batch that held them
-- last wrote): which of the campaigns had their budget run out already.
SELECT c.campaign_id FROM campaigns c
WHERE c.campaign_id = ANY (@campaign_ids::text[]) AND c.budget_exhausted_time IS NOT NULL;

-- name: MarkBudgetsExhausted :batchexec
-- write: the campaigns whose budget the batch ran out.
UPDATE campaigns SET budget_exhausted_time = sqlc.arg(now)::timestamptz
WHERE campaign_id = ANY (@campaign_ids::text[]) AND budget_exhausted_time IS NULL;

-- name: WriteCampaignBudgets :batchexec
-- write: the slices as the batch left them.
UPDATE campaign_budget_slices AS s
SET spent_points = u.spent_points, issued_coupons = u.issued_coupons, grants = u.grants
FROM (SELECT unnest(@campaign_ids::text[]) AS campaign_id,
            unnest(@slices::smallint[]) AS slice,
            unnest(@spent_points::bigint[]) AS spent_points,
            unnest(@issued_coupons::bigint[]) AS issued_coupons,
            unnest(@grants::bigint[]) AS grants) AS u
WHERE s.campaign_id = u.campaign_id AND s.slice = u.slice;

-- name: WriteCampaignUses :batchexec
-- write: what the members got, as the batch left it.
UPDATE campaign_members AS cm
SET points = u.points, coupons = u.coupons
FROM (SELECT unnest(@campaign_ids::text[]) AS campaign_id,
            unnest(@member_ids::text[]) AS member_id,
            unnest(@points::bigint[]) AS points,
            unnest(@coupons::int[]) AS coupons) AS u
WHERE cm.campaign_id = u.campaign_id AND cm.member_id = u.member_id;

-- name: WriteCampaignUsePoints :batchexec
-- write: the points the members got, as the batch left them (a row for a pair's
-- first grant; the coupons are a coupon drop's, not the batch's).
INSERT INTO campaign_members AS cm (campaign_id, member_id, points)
SELECT * FROM (SELECT unnest(@campaign_ids::text[]) AS campaign_id,
            unnest(@member_ids::text[]) AS member_id,
            unnest(@points::bigint[]) AS points) AS u
ORDER BY 1, 2
ON CONFLICT (campaign_id, member_id) DO UPDATE SET points = excluded.points;

-- name: WriteOrderGrants :batchexec
-- write: what each order's earning got from each campaign, for its refunds.
INSERT INTO campaign_order_grants (member_id, order_id, campaign_id, points)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_ids,
            unnest(@order_ids::text[]) AS order_ids,
            unnest(@campaign_ids::text[]) AS campaign_ids,
            unnest(@points::bigint[]) AS points) AS u
ON CONFLICT DO NOTHING;

-- Compensation claims on the ledger's group commit (campaigns/compensation_batch.go):
-- read under the members' row locks with the batch's other reads, written with its
-- other writes.

-- name: AfterSalesEventsOf :batchmany
-- read: the outcomes recorded for the claims, by (member, order, type) or by
-- (member, request id); every outcome of a member is written under its row lock.
SELECT e.* FROM after_sales_events e
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id,
             unnest(@event_types::text[]) AS event_type, unnest(@request_ids::text[]) AS request_id) AS k
    ON e.member_id = k.member_id
   AND ((e.order_id = k.order_id AND e.event_type = k.event_type) OR e.request_id = k.request_id);

-- name: WriteAfterSalesEvents :batchexec
-- write: the outcomes of the claims that granted something.
INSERT INTO after_sales_events (member_id, order_id, event_type, request_id, fingerprint, delay_hours, outcome,
                                actor_key_id, create_time)
SELECT * FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id,
            unnest(@event_types::text[]) AS event_type, unnest(@request_ids::text[]) AS request_id,
            unnest(@fingerprints::bytea[]) AS fingerprint, unnest(@delay_hours::int[]) AS delay_hours,
            unnest(@outcomes::jsonb[]) AS outcome, unnest(@actor_key_ids::text[]) AS actor_key_id,
            unnest(@create_times::timestamptz[]) AS create_time) AS u;

-- name: WriteCompensationCoupons :batchexec
-- write: the coupons the claims issued (their codes drawn in Go).
INSERT INTO coupons (code, member_id, campaign_id, request_id, kind, amount_off_minor, percent_off, min_spend_minor,
                     status, issue_time, valid_until, event_order_id, event_type)
SELECT u.code, u.member_id, u.campaign_id, u.request_id, u.kind, u.amount_off_minor, u.percent_off, u.min_spend_minor,
       'ISSUED', u.issue_time, u.valid_until, u.event_order_id, u.event_type
FROM (SELECT unnest(@codes::text[]) AS code, unnest(@member_ids::text[]) AS member_id,
             unnest(@campaign_ids::text[]) AS campaign_id, unnest(@request_ids::text[]) AS request_id,
             unnest(@kinds::text[]) AS kind, unnest(@amounts_off_minor::bigint[]) AS amount_off_minor,
             unnest(@percents_off::int[]) AS percent_off, unnest(@min_spends_minor::bigint[]) AS min_spend_minor,
             unnest(@issue_times::timestamptz[]) AS issue_time, unnest(@valid_untils::timestamptz[]) AS valid_until,
             unnest(@event_order_ids::text[]) AS event_order_id, unnest(@event_types::text[]) AS event_type) AS u;

-- name: TellExpiredCoupons :many
-- The issued coupons whose validity ended by @now and whose expiry was not told,
-- marked told (at most @max_rows, the earliest first; replicas skip each other's).
WITH due AS (
    SELECT x.code FROM coupons x
    WHERE x.status = 'ISSUED' AND x.expiry_told_time IS NULL AND x.valid_until <= sqlc.arg(now)::timestamptz
    ORDER BY x.valid_until
    LIMIT sqlc.arg(max_rows)
    FOR UPDATE SKIP LOCKED
)
UPDATE coupons c SET expiry_told_time = sqlc.arg(now)::timestamptz
FROM due WHERE c.code = due.code
RETURNING c.code, c.member_id, c.campaign_id, c.valid_until, c.event_order_id;

-- name: CampaignCouponDays :many
-- A campaign's coupons issued and redeemed by day in a time zone.
SELECT x.day::date AS day, sum(x.issued)::bigint AS issued, sum(x.redeemed)::bigint AS redeemed
FROM (
    SELECT (c.issue_time AT TIME ZONE sqlc.arg(time_zone)::text)::date AS day, 1 AS issued, 0 AS redeemed
    FROM coupons c WHERE c.campaign_id = sqlc.arg(campaign_id)::text
    UNION ALL
    SELECT (c.redeem_time AT TIME ZONE sqlc.arg(time_zone)::text)::date, 0, 1
    FROM coupons c WHERE c.campaign_id = sqlc.arg(campaign_id)::text AND c.redeem_time IS NOT NULL
) AS x
GROUP BY x.day
ORDER BY x.day;

-- name: CampaignCouponTotals :one
-- A campaign's coupons by status at @now (an unused one past its validity expired).
SELECT count(*)::bigint AS issued,
       (count(*) FILTER (WHERE c.status = 'REDEEMED'))::bigint AS redeemed,
       (count(*) FILTER (WHERE c.status = 'REVOKED'))::bigint AS revoked,
       (count(*) FILTER (WHERE c.status = 'ISSUED' AND c.valid_until <= sqlc.arg(now)::timestamptz))::bigint AS expired
FROM coupons c
WHERE c.campaign_id = sqlc.arg(campaign_id)::text;
