-- name: OrderGrantsOf :batchmany
-- Refunds in the ledger's batch (campaigns/giveback.go). read: what campaigns gave the orders' earnings, and what refunds returned so far.
SELECT g.*
FROM campaign_order_grants g
JOIN (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id) AS k
    ON g.member_id = k.member_id AND g.order_id = k.order_id
ORDER BY g.member_id, g.order_id, g.campaign_id;

-- name: ReturnOrderGrants :batchexec
-- write: the points refunds gave back, counted on the orders' grants.
UPDATE campaign_order_grants AS g SET returned = g.returned + u.points
FROM (SELECT unnest(@member_ids::text[]) AS member_id, unnest(@order_ids::text[]) AS order_id,
             unnest(@campaign_ids::text[]) AS campaign_id, unnest(@points::bigint[]) AS points) AS u
WHERE g.member_id = u.member_id AND g.order_id = u.order_id AND g.campaign_id = u.campaign_id;

-- name: GiveBackUses :batchexec
-- write: the members' uses go down by what was given back (never below zero).
UPDATE campaign_members AS cm SET points = greatest(cm.points - u.points, 0)
FROM (SELECT unnest(@campaign_ids::text[]) AS campaign_id, unnest(@member_ids::text[]) AS member_id,
             unnest(@points::bigint[]) AS points) AS u
WHERE cm.campaign_id = u.campaign_id AND cm.member_id = u.member_id;

-- name: GiveBackSlices :batchexec
-- write: the budgets get the points back, as giveBack spreads them: slice after
-- slice from the member's (its hash modulo the slice count), none below zero
-- spent. The slices are locked first, in the fixed order of every budget lock, and
-- the spread is computed on them as locked, so it is exact under concurrent grants.
WITH back AS (
    SELECT unnest(@campaign_ids::text[]) AS campaign_id, unnest(@member_hashes::bigint[]) AS member_hash,
           unnest(@points::bigint[]) AS points
), locked AS (
    SELECT s.campaign_id, s.slice, s.spent_points
    FROM campaign_budget_slices s
    WHERE s.campaign_id IN (SELECT campaign_id FROM back)
    ORDER BY s.campaign_id, s.slice
    FOR UPDATE
), positioned AS (
    SELECT l.campaign_id, l.slice, l.spent_points,
           (row_number() OVER (PARTITION BY l.campaign_id ORDER BY l.slice) - 1)::bigint AS pos,
           count(*) OVER (PARTITION BY l.campaign_id) AS n
    FROM locked l
), spread AS (
    SELECT p.campaign_id, p.slice, p.spent_points, b.points,
           coalesce(sum(p.spent_points) OVER (PARTITION BY p.campaign_id ORDER BY (p.pos - b.member_hash % p.n + p.n) % p.n
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::bigint AS before
    FROM positioned p
    JOIN back b ON b.campaign_id = p.campaign_id
)
UPDATE campaign_budget_slices AS s
SET spent_points = s.spent_points - least(sp.spent_points, sp.points - sp.before)
FROM spread sp
WHERE s.campaign_id = sp.campaign_id AND s.slice = sp.slice AND sp.points > sp.before AND sp.spent_points > 0;
