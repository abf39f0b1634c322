-- name: CreateKey :one
INSERT INTO api_keys (key_id, name, role, secret_hash, public_prefix)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: EnsureAdminKey :one
-- Bootstrap: the key with this secret exists, is an admin key and is not revoked.
-- A bootstrap key made before public prefixes were stored gets its prefix here.
INSERT INTO api_keys (key_id, name, role, secret_hash, public_prefix)
VALUES ($1, $2, 'admin', $3, $4)
ON CONFLICT (secret_hash) DO UPDATE SET role = 'admin', revoke_time = NULL, public_prefix = EXCLUDED.public_prefix
RETURNING *;

-- name: KeyBySecretHash :one
SELECT * FROM api_keys WHERE secret_hash = $1;

-- name: RevokeKey :one
UPDATE api_keys SET revoke_time = coalesce(revoke_time, now())
WHERE key_id = $1
RETURNING *;

-- name: ListKeys :many
SELECT * FROM api_keys ORDER BY create_time DESC, key_id;

-- name: KeyByID :one
SELECT * FROM api_keys WHERE key_id = $1;

-- name: RateLimitOfKey :one
-- A key's own rate limit; no row: the role's default.
SELECT requests_per_second, burst FROM api_key_rate_limits WHERE key_id = $1;

-- name: SetRateLimit :one
INSERT INTO api_key_rate_limits (key_id, requests_per_second, burst)
VALUES ($1, $2, $3)
ON CONFLICT (key_id) DO UPDATE
SET requests_per_second = excluded.requests_per_second, burst = excluded.burst, update_time = now()
RETURNING requests_per_second, burst;

-- name: ClearRateLimit :exec
DELETE FROM api_key_rate_limits WHERE key_id = $1;

-- name: TouchKey :exec
-- Records a use of the key; another replica's later use is kept.
UPDATE api_keys SET last_use_time = @use_time
WHERE key_id = @key_id AND (last_use_time IS NULL OR last_use_time < @use_time);
