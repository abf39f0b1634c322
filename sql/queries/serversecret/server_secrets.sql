-- name: CreateSecret :exec
-- Keeps the first secret of a name: a later or racing one changes nothing.
INSERT INTO server_secrets (name, secret) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING;

-- name: Secret :one
SELECT secret FROM server_secrets WHERE name = $1;
