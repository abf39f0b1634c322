// Package importfile reads a member import file (CSV, docs/IMPORT_EXPORT.md) as a
// stream and hands its rows to the ledger in batches: constant memory whatever the
// file's size (one batch per writer in flight), and every bad row reported with its
// line, column and reason as soon as it is found. It knows the file's format; the
// rules of an importable member are the ledger's (ledger.CheckOpening, ledger.Open).
package importfile

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/ledger"
)

// The columns of an import file, by header name. memberId is required; the others
// may be left out of the header (or empty in a row) and take their defaults.
const (
	ColMemberID       = "memberId"
	ColDisplayName    = "displayName"
	ColJoinTime       = "joinTime"
	ColOpeningBalance = "openingBalance"
	ColOpeningExpiry  = "openingExpiry"
	ColTierID         = "tierId"
	ColTierMetric     = "tierMetric"
)

// Columns lists the columns in the order a generated file has them.
var Columns = []string{ColMemberID, ColDisplayName, ColJoinTime, ColOpeningBalance, ColOpeningExpiry, ColTierID, ColTierMetric}

// RowError is one refused row: the file's line (1 is the header), the column at
// fault ("" for the row as a whole) and why.
type RowError struct {
	Line     int    `json:"line"`
	Column   string `json:"column,omitempty"`
	MemberID string `json:"memberId,omitempty"`
	Reason   string `json:"reason"`
}

// Report sums up an import.
type Report struct {
	DryRun bool `json:"dryRun"`
	// Rows: data rows read (the header not counted); Imported: members opened
	// now; Unchanged: rows imported before with the same values; Failed: rows
	// refused (each is a RowError). A dry run counts the rows it would import as
	// Imported.
	Rows      int64 `json:"rows"`
	Imported  int64 `json:"imported"`
	Unchanged int64 `json:"unchanged"`
	Failed    int64 `json:"failed"`
}

// Ledger is what an import needs of the ledger.
type Ledger interface {
	// Open imports a batch (ledger.Service.Open).
	Open(ctx context.Context, batch []ledger.Opening) ([]ledger.OpeningResult, error)
	// CheckOpenings answers what Open would, writing nothing (a dry run).
	CheckOpenings(ctx context.Context, batch []ledger.Opening) ([]ledger.OpeningResult, error)
}

// Options tune a run.
type Options struct {
	DryRun bool
	// BatchSize: rows per ledger batch (default 2,000); Writers: batches in
	// flight at once (default 2).
	BatchSize int
	Writers   int
}

// ErrHeader refuses a file whose header is not an import file's.
var ErrHeader = problem.New(problem.Invalid, "INVALID_ARGUMENT", "the file's header is not an import file's")

// Run reads the file r and imports its rows (or, for a dry run, checks them),
// calling report for every refused row, from one goroutine at a time. It returns
// the summary; an error means the file could not be read to its end (a bad header,
// the body cut off or over its limit, the database away): the rows of the batches
// written before it stay imported, and running the file again finishes the job.
func Run(ctx context.Context, r io.Reader, l Ledger, opt Options, report func(RowError) error) (Report, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 2000
	}
	if opt.Writers <= 0 {
		opt.Writers = 2
	}
	rep := Report{DryRun: opt.DryRun}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return rep, ErrHeader.WithField("header", "the file is empty: its first line must name the columns ("+strings.Join(Columns, ",")+")")
		}
		return rep, readError(err)
	}
	cols, err := parseHeader(header)
	if err != nil {
		return rep, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // report and rep
	var reportErr error
	refuse := func(e RowError) {
		mu.Lock()
		defer mu.Unlock()
		rep.Failed++
		if reportErr == nil {
			if reportErr = report(e); reportErr != nil {
				cancel()
			}
		}
	}

	type job struct {
		rows  []ledger.Opening
		lines []int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var writeErr error
	var writeOnce sync.Once
	for range opt.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				open := l.Open
				if opt.DryRun {
					open = l.CheckOpenings
				}
				res, err := open(ctx, j.rows)
				if err != nil {
					writeOnce.Do(func() { writeErr = err })
					cancel()
					continue
				}
				for i, r := range res {
					switch {
					case r.Err != nil:
						refuse(rowErrorOf(j.lines[i], j.rows[i].MemberID, r.Err))
					case r.Status == ledger.OpeningUnchanged:
						mu.Lock()
						rep.Unchanged++
						mu.Unlock()
					default:
						mu.Lock()
						rep.Imported++
						mu.Unlock()
					}
				}
			}
		}()
	}

	var cur job
	send := func() bool {
		if len(cur.rows) == 0 {
			return true
		}
		select {
		case jobs <- cur:
		case <-ctx.Done():
			return false
		}
		cur = job{rows: make([]ledger.Opening, 0, opt.BatchSize), lines: make([]int, 0, opt.BatchSize)}
		return true
	}
	cur = job{rows: make([]ledger.Opening, 0, opt.BatchSize), lines: make([]int, 0, opt.BatchSize)}
	var readErr error
	for ctx.Err() == nil {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && pe.Err != nil && !errors.Is(pe.Err, io.ErrUnexpectedEOF) && isSyntax(pe.Err) {
			rep.Rows++
			refuse(RowError{Line: pe.StartLine, Reason: "the row is not valid CSV: " + pe.Err.Error()})
			continue
		}
		if err != nil {
			readErr = readError(err)
			break
		}
		rep.Rows++
		line, _ := cr.FieldPos(0)
		o, rowErr := parseRow(cols, rec, len(header))
		if rowErr != nil {
			rowErr.Line = line
			refuse(*rowErr)
			continue
		}
		cur.rows = append(cur.rows, o)
		cur.lines = append(cur.lines, line)
		if len(cur.rows) >= opt.BatchSize && !send() {
			break
		}
	}
	if readErr == nil {
		send()
	}
	close(jobs)
	wg.Wait()
	switch {
	case readErr != nil:
		return rep, readErr
	case writeErr != nil:
		return rep, writeErr
	case reportErr != nil:
		return rep, reportErr
	}
	return rep, ctx.Err()
}

// isSyntax tells a CSV syntax error of one row (reported, the file goes on) from
// a failure to read the file.
func isSyntax(err error) bool {
	return errors.Is(err, csv.ErrBareQuote) || errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrFieldCount)
}

// readError is a failure to read the file itself (cut off, over its limit).
func readError(err error) error {
	var tooLarge interface{ TooLarge() int64 }
	if errors.As(err, &tooLarge) {
		return err
	}
	return fmt.Errorf("read the import file: %w", err)
}

// parseHeader maps the header's columns to their positions.
func parseHeader(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a spreadsheet's byte order mark
		if !slices.Contains(Columns, h) {
			return nil, ErrHeader.WithField("header", fmt.Sprintf("column %d (%q) is not a column of an import file (%s)", i+1, h, strings.Join(Columns, ",")))
		}
		if _, dup := cols[h]; dup {
			return nil, ErrHeader.WithField("header", fmt.Sprintf("column %q is named twice", h))
		}
		cols[h] = i
	}
	if _, ok := cols[ColMemberID]; !ok {
		return nil, ErrHeader.WithField("header", "the memberId column is required")
	}
	return cols, nil
}

// parseRow reads one row's fields into an opening; the ledger checks the rest.
func parseRow(cols map[string]int, rec []string, width int) (ledger.Opening, *RowError) {
	if len(rec) != width {
		return ledger.Opening{}, &RowError{Reason: fmt.Sprintf("the row has %d fields, the header %d", len(rec), width)}
	}
	field := func(name string) string {
		if i, ok := cols[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	o := ledger.Opening{MemberID: field(ColMemberID), DisplayName: field(ColDisplayName), TierID: field(ColTierID)}
	bad := func(col, reason string) (ledger.Opening, *RowError) {
		return ledger.Opening{}, &RowError{Column: col, MemberID: o.MemberID, Reason: reason}
	}
	var err error
	if o.JoinTime, err = parseTime(field(ColJoinTime), false); err != nil {
		return bad(ColJoinTime, err.Error())
	}
	if o.Points, err = parseInt(field(ColOpeningBalance)); err != nil {
		return bad(ColOpeningBalance, err.Error())
	}
	if o.Expire, err = parseTime(field(ColOpeningExpiry), true); err != nil {
		return bad(ColOpeningExpiry, err.Error())
	}
	if o.Metric, err = parseInt(field(ColTierMetric)); err != nil {
		return bad(ColTierMetric, err.Error())
	}
	return o, nil
}

func parseInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a whole number, not %q", clip(s))
	}
	return n, nil
}

// parseTime reads an RFC 3339 instant or a date (YYYY-MM-DD, UTC). A date as an
// expiry means "usable through that day": the points expire when it ends.
func parseTime(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("must be a date (2027-12-31) or an RFC 3339 time (2027-12-31T16:00:00Z), not %q", clip(s))
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// clip keeps an echoed value short.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// rowErrorOf is the row error of the ledger's refusal of a row, naming the column
// the refusal names.
func rowErrorOf(line int, memberID string, err error) RowError {
	e := RowError{Line: line, MemberID: memberID, Reason: err.Error()}
	if p, ok := problem.As(err); ok {
		e.Reason = p.Message
		if len(p.Fields) > 0 {
			e.Column, e.Reason = p.Fields[0].Field, p.Fields[0].Description
		}
		if p.Kind == problem.Internal {
			e.Reason = "internal error"
		}
	} else {
		e.Reason = "internal error"
	}
	return e
}
