// Package pgcluster runs a private PostgreSQL cluster from the installed server
// binaries: the durable one `make run` keeps under .data/, and the throwaway ones the
// tests start. When the process runs as root, the cluster runs as the unprivileged
// "postgres" user, since initdb and postgres refuse to run as root.
package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoBinaries says the PostgreSQL server binaries are not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: " +
	"install them with `apt-get install -y postgresql` (Debian/Ubuntu; `make run` and `make test` do this), " +
	"set LOYALTY_PG_BIN to their directory, or set LOYALTY_DATABASE_URL to use an existing server")

// Options describe a cluster.
type Options struct {
	// Dir holds everything: data in Dir/data, the socket and Dir/postgres.log.
	Dir string
	// Port to listen on (127.0.0.1 only). Zero picks a free port.
	Port int
	// Durable keeps fsync and synchronous commit. Tests turn it off for speed.
	Durable bool
	// MaxConnections is the server's max_connections (default 200).
	MaxConnections int
	// Settings are more server settings, "name=value", applied after the
	// others (so they win): synchronous_commit=on on a test cluster, say.
	Settings []string
}

// Cluster is a running cluster.
type Cluster struct {
	opts    Options
	bin     string
	runAs   string // empty: run as the current user
	started bool   // we started the server (rather than found it running)
}

// BinDir finds the directory of initdb and pg_ctl: $LOYALTY_PG_BIN, the newest
// /usr/lib/postgresql/*/bin, or $PATH.
func BinDir() (string, error) {
	if dir := os.Getenv("LOYALTY_PG_BIN"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("LOYALTY_PG_BIN=%s: %w", dir, ErrNoBinaries)
		}
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func versionOf(initdbPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdbPath))))
	return v
}

// Start initializes the cluster if Dir has none, and starts it unless it is already
// running (then it is reused, on the port it runs on).
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 200
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	opts.Dir = dir
	c := &Cluster{opts: opts, bin: bin}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
	}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if port, ok := c.runningPort(ctx); ok {
		c.opts.Port = port
		return c, nil
	}
	if c.opts.Port == 0 {
		if c.opts.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	c.started = true
	return c, nil
}

// StartStandby makes a streaming replica of primary in opts.Dir, a hot standby
// (pg_basebackup -R: a copy of the primary's data that follows its WAL over a
// replication connection), and starts it. The primary needs wal_level replica or
// logical (the default), free max_wal_senders and a replication line in pg_hba
// (initdb's trust setup has one for 127.0.0.1). opts.Dir must hold no cluster
// yet; Start on the same Options brings a stopped standby back.
func StartStandby(ctx context.Context, primary *Cluster, opts Options) (*Cluster, error) {
	if opts.MaxConnections == 0 {
		// A standby's max_connections may not be below the primary's.
		opts.MaxConnections = primary.opts.MaxConnections
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("standby dir: %w", err)
	}
	opts.Dir = dir
	c := &Cluster{opts: opts, bin: primary.bin, runAs: primary.runAs}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	out, err := c.command(ctx, "pg_basebackup", "-D", c.dataDir(), "-R", "-X", "stream", "-c", "fast",
		"-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port()), "-U", "postgres", "--no-sync").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pg_basebackup from port %d: %w: %s", primary.Port(), err, bytes.TrimSpace(out))
	}
	return Start(ctx, opts)
}

// URL is a connection string for database db as the postgres superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.opts.Port, db)
}

// Port is the port the server listens on.
func (c *Cluster) Port() int { return c.opts.Port }

// Started tells whether Start started the server (false: it was already running).
func (c *Cluster) Started() bool { return c.started }

// Stop shuts the server down cleanly (fast mode: open sessions are ended, and
// everything committed is on disk).
func (c *Cluster) Stop(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Crash stops the server the way a power cut or an OOM kill would (immediate mode:
// no checkpoint, sessions cut; the next start recovers from the WAL). For fault
// tests; Start on the same Dir and Port brings it back.
func (c *Cluster) Crash(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m immediate: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Options are the cluster's options, its port included, for starting it again.
func (c *Cluster) Options() Options { return c.opts }

// Remove deletes the cluster's directory. Stop it first.
func (c *Cluster) Remove() error { return os.RemoveAll(c.opts.Dir) }

func (c *Cluster) dataDir() string { return filepath.Join(c.opts.Dir, "data") }

func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", c.opts.Dir, err)
	}
	// MkdirTemp makes 0700 directories; the postgres user must be able to enter.
	if err := os.Chmod(c.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", c.opts.Dir, err)
	}
	if c.runAs == "" {
		return nil
	}
	u, err := user.Lookup(c.runAs)
	if err != nil {
		return fmt.Errorf("running as root needs the %q user to run PostgreSQL (the postgresql package creates it): %w", c.runAs, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.opts.Dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", c.opts.Dir, err)
	}
	return nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	args := []string{"-D", c.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"}
	if !c.opts.Durable {
		args = append(args, "--no-sync")
	}
	out, err := c.command(ctx, "initdb", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %w: %s", c.dataDir(), err, bytes.TrimSpace(out))
	}
	return nil
}

func (c *Cluster) start(ctx context.Context) error {
	settings := []string{
		"-p", strconv.Itoa(c.opts.Port),
		"-k", c.opts.Dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(c.opts.MaxConnections),
	}
	if !c.opts.Durable {
		settings = append(settings, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, kv := range c.opts.Settings {
		settings = append(settings, "-c", kv)
	}
	cmd := c.command(ctx, "pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.opts.Dir, "postgres.log"),
		"-w", "-t", "60", "-o", strings.Join(settings, " "), "start")
	// A session of its own: Ctrl-C in the terminal reaches loyaltyd, which drains its
	// requests and then stops the cluster, instead of hitting PostgreSQL first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.CombinedOutput()
	if err != nil {
		logTail, _ := os.ReadFile(filepath.Join(c.opts.Dir, "postgres.log"))
		return fmt.Errorf("pg_ctl start (port %d): %w: %s\n%s", c.opts.Port, err, bytes.TrimSpace(out), lastLines(logTail, 10))
	}
	return nil
}

// runningPort reports the port of a server already running on this data directory.
func (c *Cluster) runningPort(ctx context.Context) (int, bool) {
	if err := c.command(ctx, "pg_ctl", "-D", c.dataDir(), "status").Run(); err != nil {
		return 0, false
	}
	pidFile, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	// postmaster.pid: line 4 is the port.
	lines := strings.Split(string(pidFile), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port, err == nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.runAs != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte, n int) string {
	var lines []string
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
