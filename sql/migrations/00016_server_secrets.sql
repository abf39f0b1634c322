-- +goose Up

-- Secrets the server keeps for itself (the key of page tokens), the same on every
-- replica and across restarts. The first replica that needs one creates it with
-- INSERT ... ON CONFLICT DO NOTHING and every replica reads the row that won, so a
-- secret is made once and never changes. Nothing but loyaltyd reads this table.
CREATE TABLE server_secrets (
    name   text  PRIMARY KEY,
    secret bytea NOT NULL CHECK (length(secret) >= 32)
);

-- +goose Down
DROP TABLE server_secrets;
