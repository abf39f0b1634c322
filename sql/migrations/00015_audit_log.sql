-- +goose Up

-- The audit trail: one row per mutating API call by a key, refused calls included.
-- call_id is the server's id for the call: the row may be written in the effect's own
-- transaction (the ledger's entries) and otherwise right after the call; both write
-- the same call_id, so a call is never recorded twice. audit_id orders the log
-- (newest first) and is the keyset of its pages.
CREATE TABLE audit_log (
    audit_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id    text        NOT NULL UNIQUE,
    key_id     text        NOT NULL,
    role       text        NOT NULL,
    method     text        NOT NULL,
    target     text        NOT NULL DEFAULT '',
    member_id  text,
    request_id text        NOT NULL DEFAULT '',
    outcome    text        NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    time       timestamptz NOT NULL
);
CREATE INDEX audit_log_key_idx ON audit_log (key_id, audit_id);
CREATE INDEX audit_log_member_idx ON audit_log (member_id, audit_id) WHERE member_id IS NOT NULL;
CREATE INDEX audit_log_time_idx ON audit_log (time);

-- What a key list shows to recognise a key without its secret: the first characters
-- of the secret (access.PublicPrefix), stored at creation; keys created before this
-- migration have none. last_use_time is refreshed at most about once a minute per
-- key and replica (access.Service.Authenticate).
ALTER TABLE api_keys
    ADD COLUMN public_prefix text,
    ADD COLUMN last_use_time timestamptz;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN last_use_time, DROP COLUMN public_prefix;
DROP TABLE audit_log;
