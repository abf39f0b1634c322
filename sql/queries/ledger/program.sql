-- name: CurrentProgram :one
SELECT * FROM program_settings ORDER BY version DESC LIMIT 1;

-- name: InsertProgram :one
INSERT INTO program_settings (earn_points, earn_per_amount_minor, return_window_days, expiry_kind, expiry_days,
                              points_per_unit, currencies, time_zone, expiry_reminder_days, actor_key_id, update_time)
VALUES (@earn_points, @earn_per_amount_minor, @return_window_days, @expiry_kind, @expiry_days,
        @points_per_unit, @currencies, @time_zone, @expiry_reminder_days, @actor_key_id, @update_time)
RETURNING *;
