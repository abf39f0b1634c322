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

-- name: OrderGrantCampaigns :many
-- The campaigns that gave points to the member's order's earning.
SELECT campaign_id FROM campaign_order_grants WHERE member_id = @member_id AND order_id = @order_id ORDER BY campaign_id;
