-- +goose Up

-- API keys. Only a SHA-256 hash of the secret is stored: secrets are 256-bit random
-- strings, so a fast hash is enough and lookups stay a single index probe.
CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role        text        NOT NULL CHECK (role IN ('admin', 'app', 'agent', 'marketer', 'auditor')),
    secret_hash bytea       NOT NULL UNIQUE,
    create_time timestamptz NOT NULL DEFAULT now(),
    revoke_time timestamptz
);

-- Members, keyed by the shop's own identifier. Every member-scoped table carries
-- member_id so the schema can be distributed by member (Citus) without a rewrite.
CREATE TABLE members (
    member_id    text        PRIMARY KEY CHECK (member_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    display_name text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    tier_id      text        NOT NULL DEFAULT 'member',
    join_time    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE members;
DROP TABLE api_keys;
