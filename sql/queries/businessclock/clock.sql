-- name: ClockOffset :one
-- The persisted offset of business time ahead of the wall clock, in microseconds.
SELECT offset_micros FROM business_clock;

-- name: LockClockOffset :one
-- Taken while an advance is decided, so that advances from several replicas add up
-- one after the other and are checked against the limit one by one.
SELECT offset_micros FROM business_clock FOR UPDATE;

-- name: SetClockOffset :exec
UPDATE business_clock SET offset_micros = @offset_micros;
