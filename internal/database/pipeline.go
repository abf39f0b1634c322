package database

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pipeline gathers the statements of several sqlc batch queries (those annotated
// :batchone, :batchmany, :batchexec), from any package, into one pgx batch, so that
// they travel to PostgreSQL in one round trip while their SQL stays in sql/queries,
// typed by sqlc.
//
// Use: pass the pipeline as the DBTX of each generated batch function (which only
// queues its statements here), call Send, then read each generated result in the
// order the queries were queued (their Query/QueryRow/Exec callbacks), and Close.
// Statements queued directly (Queue) are read in their turn too; their callbacks,
// if any, run on Close like pgx's own.
//
// Sent on a transaction the statements run in it; sent on a connection outside a
// transaction, as one implicit transaction (or in the one a queued BEGIN opens).
type Pipeline struct {
	batch   pgx.Batch
	results pgx.BatchResults
}

// errNotBatched: a generated query that is not a batch query was given the
// pipeline; it would have to run at once, which the pipeline cannot do.
var errNotBatched = errors.New("database: only batch queries can join a pipeline")

// Queue adds a statement of its own (BEGIN, COMMIT, ...).
func (p *Pipeline) Queue(sql string, args ...any) *pgx.QueuedQuery {
	return p.batch.Queue(sql, args...)
}

// Batch is the pgx batch being gathered, for code that queues on a batch itself.
func (p *Pipeline) Batch() *pgx.Batch { return &p.batch }

// ExecNext reads the result of the next statement, one queued with Queue.
func (p *Pipeline) ExecNext() (pgconn.CommandTag, error) { return p.results.Exec() }

// Len is how many statements are queued.
func (p *Pipeline) Len() int { return p.batch.Len() }

// SendBatch takes the statements of a generated batch query and returns its
// results, readable once the pipeline is sent.
func (p *Pipeline) SendBatch(_ context.Context, b *pgx.Batch) pgx.BatchResults {
	for _, q := range b.QueuedQueries {
		p.batch.Queue(q.SQL, q.Arguments...).Fn = q.Fn
	}
	return pipelineResults{p}
}

// Send sends every queued statement in one round trip on db (a connection or a
// transaction).
func (p *Pipeline) Send(ctx context.Context, db interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}) {
	p.results = db.SendBatch(ctx, &p.batch)
}

// Close reads what is left unread and returns the first error of the round trip.
func (p *Pipeline) Close() error {
	if p.results == nil {
		return nil
	}
	return p.results.Close()
}

// Exec is refused: see errNotBatched.
func (p *Pipeline) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errNotBatched
}

// Query is refused: see errNotBatched.
func (p *Pipeline) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errNotBatched
}

// QueryRow is refused: see errNotBatched.
func (p *Pipeline) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errNotBatched }

// pipelineResults are one generated query's view of the pipeline's results: it
// reads the next results in turn, and leaves closing to the pipeline.
type pipelineResults struct{ p *Pipeline }

func (r pipelineResults) Exec() (pgconn.CommandTag, error) { return r.p.results.Exec() }
func (r pipelineResults) Query() (pgx.Rows, error)         { return r.p.results.Query() }
func (r pipelineResults) QueryRow() pgx.Row                { return r.p.results.QueryRow() }
func (r pipelineResults) Close() error                     { return nil }
func (r pipelineResults) Tx() pgx.Tx                       { return nil }
