package chaostest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loyalty-engine/loyalty/internal/pgcluster"
	"github.com/loyalty-engine/loyalty/internal/proctest"
)

// adminKey is the bootstrap admin secret of the daemons the tests run.
const adminKey = "lk_chaos_admin_secret_0123456789"

// cluster is a PostgreSQL cluster a test can crash and start again on its port.
type cluster struct {
	t    *testing.T
	opts pgcluster.Options
	c    *pgcluster.Cluster
}

// startCluster runs a private cluster for the test, with a database "loyalty",
// and removes it when the test ends.
func startCluster(t *testing.T, durable bool) *cluster {
	t.Helper()
	// Not t.TempDir: its parent is private to this user, and when the tests run as
	// root the cluster runs as the postgres user, who must be able to enter.
	dir, err := os.MkdirTemp("", "loyalty-chaos-pg-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Durable: durable})
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	cl := &cluster{t: t, opts: c.Options(), c: c}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = cl.c.Stop(stopCtx) // already down if the test failed mid-outage
		if t.Failed() {
			if tail, err := os.ReadFile(filepath.Join(dir, "postgres.log")); err == nil {
				t.Logf("postgres.log (end):\n%s", lastLines(tail, 30))
			}
		}
		_ = os.RemoveAll(dir)
	})
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE loyalty"); err != nil {
		t.Fatal(err)
	}
	return cl
}

func (c *cluster) url() string { return c.c.URL("loyalty") }

// crash stops PostgreSQL at once, as a power cut would.
func (c *cluster) crash() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.c.Crash(ctx); err != nil {
		c.t.Fatal(err)
	}
}

// restart starts it again on the same port; it recovers from its WAL.
func (c *cluster) restart() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started, err := pgcluster.Start(ctx, c.opts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.c = started
}

// buildDaemon builds the real loyaltyd into the test's temporary directory. It may
// run in a goroutine of its own: it reports a failure with t.Error and returns "".
func buildDaemon(t *testing.T) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "loyaltyd")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/loyalty-engine/loyalty/cmd/loyaltyd").CombinedOutput()
	if err != nil {
		t.Errorf("build loyaltyd: %v\n%s", err, out)
		return ""
	}
	return bin
}

// daemon is a loyaltyd process, started again on the same ports after each fault.
type daemon struct {
	t        *testing.T
	bin      string
	env      []string
	httpAddr string
	logPath  string
	cmd      *exec.Cmd
	exited   chan error
}

func newDaemon(t *testing.T, bin, databaseURL string, extraEnv ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, bin: bin, httpAddr: proctest.FreeAddr(t), logPath: filepath.Join(t.TempDir(), "loyaltyd.log")}
	d.env = append(os.Environ(),
		"LOYALTY_DATABASE_URL="+databaseURL,
		"LOYALTY_HTTP_ADDR="+d.httpAddr,
		"LOYALTY_GRPC_ADDR="+proctest.FreeAddr(t),
		"LOYALTY_ADMIN_KEY="+adminKey,
		"LOYALTY_LOG_LEVEL=warn",
	)
	d.env = append(d.env, extraEnv...)
	t.Cleanup(func() {
		if d.cmd != nil {
			d.kill()
		}
		if t.Failed() {
			if b, err := os.ReadFile(d.logPath); err == nil {
				t.Logf("loyaltyd log (end):\n%s", lastLines(b, 40))
			}
		}
	})
	return d
}

func (d *daemon) baseURL() string { return "http://" + d.httpAddr }

// start runs loyaltyd and waits until it is ready.
func (d *daemon) start() {
	d.t.Helper()
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	cmd := exec.Command(d.bin)
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own: signals the test sends reach only it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		d.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	d.cmd, d.exited = cmd, exited
	d.waitReady(90 * time.Second)
}

// waitReady waits (bounded) until /readyz answers 200.
func (d *daemon) waitReady(limit time.Duration) {
	d.t.Helper()
	if err := waitFor(limit, func() bool { return readyz(d.baseURL()) == http.StatusOK }); err != nil {
		select {
		case err := <-d.exited:
			d.exited <- err
			d.t.Fatalf("loyaltyd exited before it was ready: %v", err)
		default:
		}
		d.t.Fatalf("loyaltyd not ready after %s", limit)
	}
}

// kill ends loyaltyd at once, as a crash or an OOM kill would.
func (d *daemon) kill() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	d.cmd = nil
}

// terminate asks loyaltyd to stop (SIGTERM) and returns how it exited.
func (d *daemon) terminate() error {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		d.cmd = nil
		return err
	case <-time.After(90 * time.Second):
		d.kill()
		return errors.New("loyaltyd did not stop within 90 s of SIGTERM")
	}
}

func readyz(baseURL string) int {
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(baseURL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not so after %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func lastLines(b []byte, n int) string {
	var lines []string
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
