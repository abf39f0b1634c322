-- name: CreateKey :one
INSERT INTO api_keys (key_id, name, role, secret_hash)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: EnsureAdminKey :one
-- Bootstrap: the key with this secret exists, is an admin key and is not revoked.
INSERT INTO api_keys (key_id, name, role, secret_hash)
VALUES ($1, $2, 'admin', $3)
ON CONFLICT (secret_hash) DO UPDATE SET role = 'admin', revoke_time = NULL
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
