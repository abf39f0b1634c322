-- +goose Up

-- Streamed exports (docs/IMPORT_EXPORT.md). The entries of a period: entries are
-- appended in time order, so a BRIN index finds a month's blocks for almost nothing
-- on the write path (a B-tree would be one more index every entry insert updates).
CREATE INDEX entries_create_time_brin ON entries USING brin (create_time);
-- The coupons of a campaign, in code order.
CREATE INDEX coupons_campaign_idx ON coupons (campaign_id, code);

-- +goose Down
DROP INDEX coupons_campaign_idx;
DROP INDEX entries_create_time_brin;
