package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

func TestUnavailableClassifiesConnectionFailures(t *testing.T) {
	// A real connection attempt to a port nobody listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	_, refused := pgx.Connect(context.Background(), "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=2")
	if refused == nil {
		t.Fatal("connected to a closed port")
	}

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused on connect", refused, true},
		{"wrapped connect error", fmt.Errorf("earn: %w", refused), true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"connection exception class", &pgconn.PgError{Code: "08006"}, true},
		{"connection does not exist", &pgconn.PgError{Code: "08003"}, true},
		{"connection already closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"closed pool", fmt.Errorf("acquire: %w", puddle.ErrClosedPool), true},
		{"stream ended", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"reset by peer", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"deadline", context.DeadlineExceeded, false},
		{"no rows", pgx.ErrNoRows, false},
		{"a bug", errors.New("index out of range"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unavailable(tt.err)
			if (got != nil) != tt.want {
				t.Fatalf("Unavailable(%v) = %v, want unavailable %v", tt.err, got, tt.want)
			}
			if got == nil {
				return
			}
			if p, ok := problem.As(got); !ok || p.Kind != problem.Unavailable || p.Reason != "DATABASE_UNAVAILABLE" {
				t.Fatalf("Unavailable(%v) = %#v, want a declared Unavailable error", tt.err, got)
			}
		})
	}
}
