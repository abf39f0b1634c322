-- name: AddMetricMove :one
-- A move of the qualifying metric outside the write statement (refunds): only
-- losses go this way, so it never upgrades.
SELECT coalesce(tier_qualify(@member_id::text, sqlc.narg(entry_id)::bigint, sqlc.narg(order_id)::text, @day::date,
                             @points::bigint, @spend_minor::bigint, '', @day::date, '{}'::text[], '{}'::bigint[],
                             @now::timestamptz, @now::timestamptz, 0), '')::text;

-- name: MetricMoveOfEntry :one
SELECT * FROM tier_metric_moves WHERE entry_id = @entry_id;
