// Package proctest helps tests that run real processes (loyaltyd, PostgreSQL): a
// free local address to give one, and a buffer that collects a process's output
// from both of its pipes.
package proctest

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// FreeAddr is a 127.0.0.1 address with a port nothing listens on right now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Output collects what a process writes to stdout and stderr, which arrive on two
// goroutines.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
