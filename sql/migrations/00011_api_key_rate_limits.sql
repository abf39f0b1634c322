-- +goose Up

-- Per-key rate limits set by an admin; a key without a row gets its role's default
-- (access.DefaultRateLimit). Requests per second and burst are the token bucket's
-- refill rate and size; the bounds are the API's (access.SetRateLimit).
CREATE TABLE api_key_rate_limits (
    key_id              text        PRIMARY KEY REFERENCES api_keys (key_id),
    requests_per_second integer     NOT NULL CHECK (requests_per_second BETWEEN 1 AND 1000000),
    burst               integer     NOT NULL CHECK (burst BETWEEN 1 AND 1000000),
    update_time         timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE api_key_rate_limits;
