package audit

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// InTx writes the call's record in the transaction of its effect: both commit, or
// neither does and the record is written after the call with the failure.
func TestInTxCommitsTheRecordWithTheEffect(t *testing.T) {
	pool := dbtest.NewPool(t)
	at := time.Date(2027, 11, 11, 0, 0, 0, 0, time.UTC)
	store := NewStore(pool, fixedClock(at), nil)
	ctx := context.Background()
	insertMember := func(id string) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO members (member_id, join_time) VALUES ($1, now())`, id)
			return err
		}
	}

	ok := store.Start("/loyalty.v1.MemberService/EnrollMember")
	ok.Identify("key_1", "app")
	ok.Describe("members/m1", "m1", "")
	if err := InTx(With(ctx, ok), pool, insertMember("m1")); err != nil {
		t.Fatal(err)
	}
	if !ok.Written() {
		t.Fatal("a committed record is not known as written")
	}
	var same bool
	if err := pool.QueryRow(ctx, `SELECT a.xmin::text = m.xmin::text FROM audit_log a, members m
		WHERE a.call_id = $1 AND m.member_id = 'm1'`, ok.Snapshot().CallID).Scan(&same); err != nil || !same {
		t.Fatalf("record and effect in one transaction: %v %v", same, err)
	}
	// The call's own write after it changes nothing.
	if err := store.Finish(ctx, ok, "OK", ""); err != nil {
		t.Fatal(err)
	}

	failed := store.Start("/loyalty.v1.MemberService/EnrollMember")
	failed.Identify("key_1", "app")
	failed.Describe("members/m1", "m1", "")
	boom := errors.New("boom")
	err := InTx(With(ctx, failed), pool, func(tx pgx.Tx) error {
		if err := insertMember("m2")(tx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || failed.Written() {
		t.Fatalf("failed transaction: %v, written %v", err, failed.Written())
	}
	if err := store.Finish(ctx, failed, "INTERNAL", ""); err != nil {
		t.Fatal(err)
	}

	page, err := store.List(ctx, Query{MemberID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 || page.Records[0].Outcome != "INTERNAL" || page.Records[1].Outcome != "OK" ||
		!page.Records[1].Time.Equal(at) || page.Records[1].KeyID != "key_1" {
		t.Fatalf("records %+v", page.Records)
	}
	// Outside an audited call InTx is a plain transaction.
	if err := InTx(ctx, pool, insertMember("m3")); err != nil {
		t.Fatal(err)
	}
	if all, _ := store.List(ctx, Query{}); len(all.Records) != 2 {
		t.Fatalf("a transaction outside a call wrote a record: %+v", all.Records)
	}
}

// RunInTx runs the transaction again after a deadlock: the record an aborted
// attempt had written went with it, and the attempt that commits writes it again,
// with its effect.
func TestRunInTxCommitsTheRecordOnceWithTheAttemptThatCommits(t *testing.T) {
	pool := dbtest.NewPool(t)
	store := NewStore(pool, fixedClock(time.Date(2027, 11, 11, 0, 0, 0, 0, time.UTC)), nil)
	call := store.Start("/loyalty.v1.MemberService/EnrollMember")
	call.Describe("members/m1", "m1", "")
	ctx := With(context.Background(), call)

	attempts := 0
	err := RunInTx(ctx, database.NewRunner("test-audit"), pool, func(tx pgx.Tx) error {
		attempts++
		if _, err := tx.Exec(ctx, `INSERT INTO members (member_id, join_time) VALUES ('m1', now())`); err != nil {
			return err
		}
		if attempts == 1 { // the record is in, then PostgreSQL aborts the transaction
			if err := WriteTx(ctx, tx); err != nil {
				return err
			}
			return &pgconn.PgError{Code: "40P01"}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || !call.Written() {
		t.Fatalf("attempts %d, written %v; want 2, true", attempts, call.Written())
	}
	var records int
	var same bool
	if err := pool.QueryRow(ctx, `SELECT count(*), bool_and(a.xmin::text = m.xmin::text) FROM audit_log a, members m
		WHERE a.call_id = $1 AND m.member_id = 'm1'`, call.Snapshot().CallID).Scan(&records, &same); err != nil {
		t.Fatal(err)
	}
	if records != 1 || !same {
		t.Fatalf("records %d, in the effect's transaction %v; want 1, true", records, same)
	}
}
