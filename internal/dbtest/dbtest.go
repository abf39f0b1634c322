// Package dbtest gives tests real PostgreSQL databases. A package's TestMain calls
// Main; tests call NewDatabase for an isolated database created from a migrated
// template (about 50 ms), so tests that commit, race and verify never see each other.
//
// The server is LOYALTY_TEST_DATABASE_URL when set (any database on a server where
// the user may create databases); otherwise a throwaway cluster is started from the
// PostgreSQL binaries in a temporary directory and removed at the end.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loyalty-engine/loyalty/internal/database"
	"github.com/loyalty-engine/loyalty/internal/pgcluster"
	"github.com/loyalty-engine/loyalty/sql/migrations"
)

// EnvURL names an existing server to test against instead of a throwaway cluster.
const EnvURL = "LOYALTY_TEST_DATABASE_URL"

var (
	setupOnce sync.Once
	setupErr  error
	cluster   *pgcluster.Cluster
	adminURL  string // a database to connect to for CREATE/DROP DATABASE
	tplName   string
)

// Main runs the package's tests and then stops the throwaway cluster, if one was
// started. Use it from TestMain: os.Exit(dbtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cluster.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: stop cluster:", err)
		}
		_ = cluster.Remove()
	}
	return code
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv(EnvURL); u != "" {
		adminURL = u
	} else {
		dir, err := os.MkdirTemp("", "loyalty-test-pg-")
		if err != nil {
			return fmt.Errorf("temp dir: %w", err)
		}
		c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, MaxConnections: 400})
		if err != nil {
			_ = os.RemoveAll(dir)
			return fmt.Errorf("start test cluster: %w", err)
		}
		cluster = c
		adminURL = c.URL("postgres")
	}
	name, err := templateName()
	if err != nil {
		return err
	}
	tplName = name
	return ensureTemplate(ctx, name)
}

// templateName changes whenever a migration changes, so a shared server never serves
// a stale template. The job queue's migrations come with its module: its version is
// part of the name.
func templateName() (string, error) {
	h := sha256.New()
	h.Write([]byte("river v0.51.1"))
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return "", fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", n, err)
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return "loyalty_tpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ensureTemplate builds the migrated template once per server. Test binaries of
// several packages run in parallel, so the work is serialized by an advisory lock and
// the template appears under its name only when it is complete.
func ensureTemplate(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(74210001)"); err != nil {
		return fmt.Errorf("template lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(74210001)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop stale template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	if err := database.Migrate(ctx, withDatabase(adminURL, building), nil); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return fmt.Errorf("publish template: %w", err)
	}
	return nil
}

// NewDatabase creates an isolated, migrated database for the test and drops it when
// the test ends. It returns the database's URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	return createDatabase(tb, "loyalty_test_", true)
}

// NewPool is NewDatabase with a pool connected to it, closed when the test ends.
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := database.Open(context.Background(), NewDatabase(tb), 32)
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// EmptyDatabase is the URL of a fresh, empty (unmigrated) database, for tests of the
// migration itself.
func EmptyDatabase(tb testing.TB) string {
	tb.Helper()
	return createDatabase(tb, "loyalty_empty_", false)
}

// createDatabase makes a database with a random name, migrated (a copy of the
// template) or empty, and drops it when the test ends.
func createDatabase(tb testing.TB, prefix string, migrated bool) string {
	tb.Helper()
	setupOnce.Do(func() { setupErr = setup() })
	if setupErr != nil {
		tb.Fatalf("dbtest: %v", setupErr)
	}
	templateClause := ""
	if migrated {
		templateClause = "TEMPLATE " + tplName
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		tb.Fatalf("dbtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	name := prefix + randomSuffix()
	// CREATE DATABASE fails while another session is connected to the template; the
	// template is never used directly, but a racing creator may briefly hold it.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" "+templateClause)
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "is being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("dbtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			tb.Errorf("dbtest: connect for drop: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("dbtest: drop database: %v", err)
		}
	})
	return withDatabase(adminURL, name)
}

func withDatabase(rawURL, db string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("dbtest: bad url: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
