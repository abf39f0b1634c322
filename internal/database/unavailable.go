package database

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

// ErrUnavailable says PostgreSQL cannot be reached or cannot serve right now (down,
// restarting, recovering, refusing connections). Nothing was changed by a call
// that got it, unless it was cut off while committing; either way a retry with the
// same requestId is safe and answers what was done.
// It advises a retry after a second (RetryInfo; Retry-After on REST).
var ErrUnavailable = problem.New(problem.Unavailable, "DATABASE_UNAVAILABLE",
	"The database is unavailable at the moment; retry the same request shortly.").WithRetryAfter(time.Second)

// Unavailable is the one classification of connection failures: it returns
// ErrUnavailable when err says the database was out of reach, and nil for any
// other error (a constraint violation, a bug, a deadline, nil itself).
//
// Out of reach means: no connection could be made (pgconn.ConnectError), the
// connection broke under the call (network errors, an unexpected end of stream, a
// connection pgx already closed),
// the server said so (SQLSTATE class 08, connection exception; 57P01 admin
// shutdown, 57P02 crash shutdown, 57P03 cannot connect now), or the pool is closed
// (loyaltyd is stopping).
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" {
			return ErrUnavailable
		}
		return nil
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, puddle.ErrClosedPool),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr) && !netErr.Timeout():
		return ErrUnavailable
	}
	return nil
}
