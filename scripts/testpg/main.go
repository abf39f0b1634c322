// Command testpg runs a throwaway PostgreSQL cluster for scripts: it prints the
// cluster's URL on the first line of stdout, runs until stdin closes or it gets
// SIGINT/SIGTERM, then stops the cluster and removes its directory.
//
// scripts/fuzz.sh points every fuzz target at one such cluster (through
// LOYALTY_TEST_DATABASE_URL) so that fuzz workers, which go test may kill at the
// end of a run, never leave clusters of their own behind.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/loyalty-engine/loyalty/internal/pgcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testpg:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "loyalty-testpg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, MaxConnections: 400})
	cancel()
	if err != nil {
		return err
	}
	fmt.Println(c.URL("postgres"))

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Stop(ctx)
}
