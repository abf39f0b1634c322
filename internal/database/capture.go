package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// StatementOf is the SQL and the arguments a sqlc query sends, captured without
// running it, so that the query can join a pgx batch somebody else builds while its
// text and parameters stay in sql/queries, typed by sqlc. run calls the generated
// query with the Capture it is given as its DBTX (every sqlc package's DBTX has
// these three methods).
func StatementOf(run func(*Capture) error) (string, []any) {
	var c Capture
	if err := run(&c); !errors.Is(err, errCaptured) {
		panic(fmt.Sprintf("database: capturing a statement: %v", err))
	}
	return c.sql, c.args
}

var errCaptured = errors.New("statement captured")

// Capture is a DBTX that records the statement it is given and runs nothing.
type Capture struct {
	sql  string
	args []any
}

// Exec records the statement.
func (c *Capture) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c.sql, c.args = sql, args
	return pgconn.CommandTag{}, errCaptured
}

// Query records the statement.
func (c *Capture) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.sql, c.args = sql, args
	return nil, errCaptured
}

// QueryRow records the statement.
func (c *Capture) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	c.sql, c.args = sql, args
	return capturedRow{}
}

type capturedRow struct{}

func (capturedRow) Scan(...any) error { return errCaptured }
