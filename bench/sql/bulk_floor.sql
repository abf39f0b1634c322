-- What PostgreSQL alone takes to write the rows a bulk credit gives each member, with
-- no engine in between: per member an entry (with all its indexes and CHECK), a
-- lot, the balance's UPDATE, an event (jsonb) and its member counter's upsert; the
-- system posting summed into one row per chunk is left out (one row per 5,000).
-- The rows are made in SQL from the members' own rows (nothing crosses the wire),
-- in chunks of :chunk members, one transaction each, under the members' row locks,
-- as a chunk would. It is the floor under any bulk credit of this schema on this
-- machine: a chunk of the engine's cannot be cheaper than these statements.
--
-- Run on a throwaway database holding sql/schema.sql: bench/bulkfloor.sh does it
-- (BULKFLOOR_MEMBERS, BULKFLOOR_CHUNK, BULKFLOOR_FSYNC).
\set ON_ERROR_STOP on
\timing off

-- :members members with balances, not timed (once: bench/bulkfloor.sh runs this file
-- with seed=1 first, then once per parallel worker with its share, from..to).
\if :seed
INSERT INTO members (member_id, join_time)
SELECT 'floor-' || lpad(g::text, 7, '0'), now() FROM generate_series(0, :members - 1) g;
INSERT INTO member_balances (member_id) SELECT member_id FROM members WHERE member_id LIKE 'floor-%';
INSERT INTO event_member_seqs (member_id, last_seq, last_feed_xid)
SELECT member_id, 1, pg_current_xact_id() FROM members WHERE member_id LIKE 'floor-%';
VACUUM ANALYZE members, member_balances, event_member_seqs;
CHECKPOINT;
\quit
\endif

CREATE TEMP TABLE floor_ids (member_id text, entry_id bigint, lot_id bigint, available bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE floor_steps (step text PRIMARY KEY, ord int, secs float8 NOT NULL DEFAULT 0);
INSERT INTO floor_steps VALUES ('lock members, draw ids', 1), ('entries', 2), ('lots', 3), ('balances', 4),
  ('events and counters', 5), ('commit', 6);

-- step adds the time since t to a step's total and answers now.
CREATE FUNCTION pg_temp.step(name text, t timestamptz) RETURNS timestamptz LANGUAGE sql AS $f$
  UPDATE floor_steps SET secs = secs + extract(epoch FROM clock_timestamp() - t) WHERE step = name;
  SELECT clock_timestamp();
$f$;

CREATE PROCEDURE pg_temp.floor_chunk(first int, n int) LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN
  INSERT INTO floor_ids
  SELECT b.member_id, nextval('entries_entry_id_seq'::regclass), nextval('lots_lot_id_seq'::regclass), b.available + 500
  FROM member_balances b
  WHERE b.member_id = ANY (ARRAY(SELECT 'floor-' || lpad(g::text, 7, '0') FROM generate_series(first, first + n - 1) g))
  ORDER BY b.member_id
  FOR UPDATE OF b;
  t := pg_temp.step('lock members, draw ids', t);
  INSERT INTO entries (entry_id, member_id, kind, accounts, amounts, available_after, pending_after, held_after,
                       request_id, fingerprint, memo, actor_key_id, create_time)
  OVERRIDING SYSTEM VALUE
  SELECT f.entry_id, f.member_id, 'BULK_CREDIT', ARRAY['available', 'system:issued'], ARRAY[500, -500]::bigint[],
         f.available, 0, 0, 'system#bulk:floor', sha256(f.member_id::bytea), 'floor', 'bench', now()
  FROM floor_ids f;
  t := pg_temp.step('entries', t);
  INSERT INTO lots (lot_id, member_id, entry_id, origin_entry_id, points, remaining, expire_time, create_time)
  OVERRIDING SYSTEM VALUE
  SELECT f.lot_id, f.member_id, f.entry_id, f.entry_id, 500, 500, now() + interval '1 year', now() FROM floor_ids f;
  t := pg_temp.step('lots', t);
  UPDATE member_balances b SET available = f.available, last_entry_time = now()
  FROM floor_ids f WHERE b.member_id = f.member_id;
  t := pg_temp.step('balances', t);
  WITH bumped AS (
    UPDATE event_member_seqs s SET last_seq = s.last_seq + 1, last_feed_xid = greatest(s.last_feed_xid, pg_current_xact_id())
    FROM floor_ids f WHERE s.member_id = f.member_id
    RETURNING s.member_id, s.last_seq, s.last_feed_xid)
  INSERT INTO events (feed_xid, event_id, type, occur_time, member_id, member_seq, data)
  SELECT b.last_feed_xid, lpad(to_hex(f.entry_id), 32, '0')::uuid, 'points.bulk_credited', now(), b.member_id, b.last_seq,
         jsonb_build_object('memberId', f.member_id, 'entryId', f.entry_id, 'points', 500, 'bulkCreditId', 1,
                            'lotExpireTime', now() + interval '1 year', 'availableAfter', f.available, 'reason', 'floor')
  FROM bumped b JOIN floor_ids f USING (member_id);
  t := pg_temp.step('events and counters', t);
END $$;

-- The timed part: every chunk its own transaction, back to back (psql does not
-- expand its variables inside a DO block: they travel as settings).
SELECT set_config('floor.from', :'from', false), set_config('floor.to', :'to', false), set_config('floor.chunk', :'chunk', false) \gset
DO $$
DECLARE
  began timestamptz := clock_timestamp();
  chunk_started timestamptz;
  slowest interval := '0';
  total int := current_setting('floor.to')::int;
  size int := current_setting('floor.chunk')::int;
  first int := current_setting('floor.from')::int;
  t timestamptz;
BEGIN
  WHILE first < total LOOP
    chunk_started := clock_timestamp();
    CALL pg_temp.floor_chunk(first, least(size, total - first));
    t := clock_timestamp();
    COMMIT;
    PERFORM pg_temp.step('commit', t);
    slowest := greatest(slowest, clock_timestamp() - chunk_started);
    first := first + size;
  END LOOP;
  RAISE NOTICE 'worker: members % to % in % s (slowest chunk % ms)',
    current_setting('floor.from'), total - 1, round(extract(epoch FROM clock_timestamp() - began)::numeric, 2),
    round(extract(epoch FROM slowest)::numeric * 1000);
END $$;
SELECT step, round((secs * 1e6 / (current_setting('floor.to')::int - current_setting('floor.from')::int))::numeric, 1) AS us_per_member,
       round((100 * secs / sum(secs) OVER ())::numeric) AS pct
FROM floor_steps ORDER BY ord;
