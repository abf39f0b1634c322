// Command history builds a long ledger history and measures the reads a page view
// makes on it (docs/BENCHMARKS.md, "History at any length"):
//
//	go run ./bench/history seed -db URL [-entries 10000000 -big 1000000 -small 1000]
//	go run ./bench/history measure -db URL [-n 1000]
//	go run ./bench/history verify -db URL
//
// seed migrates an empty database and fills it (internal/historyseed); measure
// reads statement pages (any page, with and without filters) and balances as of
// random instants for the member with the long history and the one with the short
// one, and prints p50/p99 per read; verify times a full audit (-full=false: not),
// then an incremental verify with nothing new and one after 1,000 new earnings.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/historyseed"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/tiers"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: history seed|measure|verify -db URL [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	db := fs.String("db", "postgres://postgres@127.0.0.1:54361/loyalty?sslmode=disable", "database URL")
	entries := fs.Int64("entries", 10_000_000, "seed: entries in all")
	big := fs.Int64("big", 1_000_000, "seed: entries of the big member")
	small := fs.Int64("small", 1_000, "seed: entries of the small member")
	events := fs.Bool("events", true, "seed: write each entry's event")
	n := fs.Int("n", 1000, "measure: reads of each kind per member")
	full := fs.Bool("full", true, "verify: time a full audit first")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(ctx, *db, historyseed.Options{Entries: *entries, BigEntries: *big, SmallEntries: *small, Events: *events, DropIndexes: true})
	case "measure":
		err = measure(ctx, *db, *n)
	case "verify":
		err = verify(ctx, *db, *full)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "history:", err)
		os.Exit(1)
	}
}

func seed(ctx context.Context, url string, o historyseed.Options) error {
	if err := database.Migrate(ctx, url, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	t0 := time.Now()
	r, err := historyseed.Seed(ctx, pool, o)
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d entries (%d members; %s: %d, %s: %d) in %s\n", r.Entries, r.Members,
		historyseed.BigMember, r.BigEntries, historyseed.SmallMember, r.SmallEntries, time.Since(t0).Round(time.Second))
	return nil
}

func service(ctx context.Context, url string) (*pgxpool.Pool, *ledger.Service, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	return pool, ledger.NewService(pool, tiers.NewService(pool)), nil
}

func measure(ctx context.Context, url string, n int) error {
	pool, svc, err := service(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	fmt.Println("| member | entries | read | p50 ms | p99 ms | max ms |")
	fmt.Println("|---|---:|---|---:|---:|---:|")
	for _, member := range []string{historyseed.BigMember, historyseed.SmallMember} {
		var ids []int64
		rows, err := pool.Query(ctx, "SELECT entry_id FROM entries WHERE member_id = $1 ORDER BY entry_id", member)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("%s has no entries: seed first", member)
		}
		var first, last time.Time
		if err := pool.QueryRow(ctx, "SELECT min(create_time), max(create_time) FROM entries WHERE member_id = $1", member).Scan(&first, &last); err != nil {
			return err
		}
		span := last.Sub(first)
		at := func() time.Time { return first.Add(time.Duration(rand.Int64N(int64(span) + 1))) }
		reads := []struct {
			name string
			q    func() ledger.ListActivity
		}{
			{"statement, first page", func() ledger.ListActivity { return ledger.ListActivity{MemberID: member} }},
			{"statement, any page", func() ledger.ListActivity { return ledger.ListActivity{MemberID: member} }},
			{"statement, any page, kind GOODWILL (1 in 97)", func() ledger.ListActivity {
				return ledger.ListActivity{MemberID: member, Kinds: []string{"GOODWILL"}}
			}},
			{"statement, any page, kinds EARN+GOODWILL", func() ledger.ListActivity {
				return ledger.ListActivity{MemberID: member, Kinds: []string{"EARN", "GOODWILL"}}
			}},
			{"statement, time range (random 30 days)", func() ledger.ListActivity {
				s := at()
				return ledger.ListActivity{MemberID: member, StartTime: s, EndTime: s.Add(30 * 24 * time.Hour)}
			}},
			{"statement, any page, kind GOODWILL, time range (random 30 days)", func() ledger.ListActivity {
				s := at()
				return ledger.ListActivity{MemberID: member, Kinds: []string{"GOODWILL"}, StartTime: s, EndTime: s.Add(30 * 24 * time.Hour)}
			}},
		}
		for i, r := range reads {
			var d []time.Duration
			for range n {
				q := r.q()
				q.PageSize = ledger.DefaultPageSize
				if i > 0 && r.name != "statement, time range (random 30 days)" {
					q.PageToken = svc.ActivityPageToken(q, ids[rand.IntN(len(ids))])
				}
				t0 := time.Now()
				if _, err := svc.ListActivity(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", r.name, err)
				}
				d = append(d, time.Since(t0))
			}
			row(member, len(ids), r.name, d)
		}
		var d []time.Duration
		for range n {
			t0 := time.Now()
			if _, err := svc.BalanceAsOf(ctx, member, at()); err != nil {
				return err
			}
			d = append(d, time.Since(t0))
		}
		row(member, len(ids), "balance as of a random instant", d)
	}
	return nil
}

func row(member string, entries int, read string, d []time.Duration) {
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	fmt.Printf("| %s | %d | %s | %.2f | %.2f | %.2f |\n", member, entries, read,
		ms(d[len(d)/2]), ms(d[min(len(d)-1, len(d)*99/100)]), ms(d[len(d)-1]))
}

func verify(ctx context.Context, url string, full bool) error {
	pool, svc, err := service(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	timed := func(name string, f func(context.Context) (ledger.Verification, error)) error {
		t0 := time.Now()
		v, err := f(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("%s: ok=%v full=%v entries checked=%d (after entry %d, checkpoint at %d) in %s\n",
			name, v.OK, v.Full, v.EntriesChecked, v.After, v.Upto, time.Since(t0).Round(time.Millisecond))
		return nil
	}
	if full {
		if err := timed("full verify", svc.Verify); err != nil {
			return err
		}
	}
	if err := timed("incremental verify, nothing new", svc.VerifyIncremental); err != nil {
		return err
	}
	actor := ledger.Actor{KeyID: "bench"}
	stamp := time.Now().UnixNano()
	for i := range 1000 {
		member := historyseed.SmallMember
		if i%2 == 0 {
			member = historyseed.BigMember
		}
		if _, err := svc.Earn(ctx, actor, ledger.Earn{MemberID: member, RequestID: fmt.Sprintf("bench-%d-%d", stamp, i), Points: 1}); err != nil {
			return err
		}
	}
	return timed("incremental verify, 1000 new entries", svc.VerifyIncremental)
}
