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
-- The key with its own rate limit, if it has one (NULLs: its role's default), in
-- one round trip: Authenticate caches both together.
SELECT sqlc.embed(k), r.requests_per_second, r.burst
FROM api_keys k LEFT JOIN api_key_rate_limits r USING (key_id)
WHERE k.secret_hash = $1;

-- name: RevokeKey :one
UPDATE api_keys SET revoke_time = coalesce(revoke_time, now())
WHERE key_id = $1
RETURNING *;

-- name: ListKeys :many
SELECT * FROM api_keys ORDER BY create_time DESC, key_id;

-- name: KeyByID :one
-- The key with its own rate limit, if it has one (NULLs: its role's default).
SELECT sqlc.embed(k), r.requests_per_second, r.burst
FROM api_keys k LEFT JOIN api_key_rate_limits r USING (key_id)
WHERE k.key_id = $1;

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
