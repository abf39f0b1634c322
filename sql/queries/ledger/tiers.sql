-- name: MetricMoveOfEntry :one
SELECT * FROM tier_metric_moves WHERE entry_id = @entry_id;
