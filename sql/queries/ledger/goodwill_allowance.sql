-- name: GoodwillGrantedOn :one
-- What a key granted in goodwill on a day (0 when it granted nothing), for the
-- console to show what is left of its daily limit. Read without a lock: the write
-- path decides against the locked row (batch_goodwill.sql).
SELECT coalesce((SELECT granted FROM goodwill_usage WHERE key_id = @key_id AND day = @day), 0)::bigint AS granted;
