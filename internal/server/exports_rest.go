package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/ledger"
)

// Export formats.
const (
	formatCSV   = "csv"
	formatJSONL = "jsonl"
)

// The columns of each export (docs/IMPORT_EXPORT.md).
var (
	entryExportColumns = []string{"entryId", "createTime", "memberId", "kind", "available", "pending", "held",
		"availableAfter", "pendingAfter", "heldAfter", "postings", "requestId", "orderId", "holdId", "reversesEntryId", "reasonCode", "memo"}
	liabilityExportColumns = []string{"section", "key", "available", "pending", "held", "balance"}
	couponExportColumns    = []string{"code", "memberId", "campaignId", "kind", "amountOffMinor", "percentOff", "minSpendMinor",
		"status", "issueTime", "validUntil", "redeemTime", "redeemOrderId", "eventOrderId", "eventType"}
)

// export serves the GET /v1/exports/... routes. Every refusal (a bad parameter, an
// unknown member or campaign) comes before the first byte of the answer; a failure
// after it (the database away mid-way) aborts the connection, so the client sees a
// cut-off transfer, never a short file that looks complete.
func (h *streamREST) export(w http.ResponseWriter, r *http.Request, op, variable string, query map[string]string) {
	ctx := r.Context()
	format := query["format"]
	switch format {
	case "":
		format = formatCSV
	case formatCSV, formatJSONL:
	default:
		h.errors.refuse(ctx, w, r, invalidValue("format", "must be csv or jsonl"))
		return
	}
	var rw *rowWriter
	run := func(ctx context.Context) (err error) {
		switch op {
		case opExportEntries:
			var period ledger.ExportPeriod
			if period.From, err = exportTime("from", query["from"]); err == nil {
				period.To, err = exportTime("to", query["to"])
			}
			if err != nil {
				return err
			}
			rw = newRowWriter(w, format, "entries", entryExportColumns)
			return h.ledger.ExportEntries(ctx, period, rw.entry)
		case opExportStatement:
			rw = newRowWriter(w, format, "statement-"+variable, entryExportColumns)
			return h.ledger.ExportStatement(ctx, variable, rw.entry)
		case opExportLiability:
			rw = newRowWriter(w, format, "liability", liabilityExportColumns)
			return h.exportLiability(ctx, rw)
		case opExportCoupons:
			rw = newRowWriter(w, format, "coupons-"+variable, couponExportColumns)
			return h.campaigns.ExportCoupons(ctx, variable, rw.coupon)
		}
		return nil
	}
	// Exports are reads that may lag: the replica's, when there is one. A run
	// again on the primary after the replica failed is only for an export that
	// sent nothing yet; one cut off after its first rows is aborted as any is.
	var first error
	_, err := routedRead(ctx, h.reads, httpMD(r.Header), func(ctx context.Context) (struct{}, error) {
		if rw != nil && rw.started {
			return struct{}{}, first
		}
		first = run(ctx)
		return struct{}{}, first
	})
	if err != nil {
		if rw != nil && rw.started {
			h.errors.log.ErrorContext(ctx, "export aborted", "error", err, "op", op)
			panic(http.ErrAbortHandler)
		}
		h.errors.refuse(ctx, w, r, err)
		return
	}
	if err := rw.close(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// exportTime reads a period's bound: an RFC 3339 time or a date (its midnight, UTC).
func exportTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, invalidValue(field, "is required: an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, invalidValue(field, "must be an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01)")
	}
	return t, nil
}

func (h *streamREST) exportLiability(ctx context.Context, rw *rowWriter) error {
	l, err := h.ledger.Liability(ctx)
	if err != nil {
		return err
	}
	if err := rw.row("total", "", l.Available, l.Pending, l.Held, l.Outstanding); err != nil {
		return err
	}
	if err := rw.row("debt", "", int64(0), int64(0), int64(0), l.Debt); err != nil {
		return err
	}
	for _, m := range l.ByExpiryMonth {
		if err := rw.row("expiryMonth", m.Month, m.Available, m.Pending, int64(0), m.Available+m.Pending); err != nil {
			return err
		}
	}
	for _, a := range l.SystemAccounts {
		if err := rw.row("systemAccount", a.Account, int64(0), int64(0), int64(0), a.Balance); err != nil {
			return err
		}
	}
	return nil
}

// rowWriter writes an export's rows as CSV (a header line first) or JSON Lines
// (one object per row, keyed by the columns), through a buffer that is flushed to
// the client after the first row and then every flushEvery rows: the client sees
// the export coming at once, and memory holds one buffer, never the export.
type rowWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	format  string
	name    string
	cols    []string
	out     *bufio.Writer
	csv     *csv.Writer
	rows    int
	started bool
	fields  []string
}

const flushEvery = 1000

func newRowWriter(w http.ResponseWriter, format, name string, cols []string) *rowWriter {
	return &rowWriter{w: w, rc: http.NewResponseController(w), format: format, name: name, cols: cols}
}

// start writes the headers (and the CSV header line): the answer is 200 from here.
func (rw *rowWriter) start() error {
	rw.started = true
	h := rw.w.Header()
	if rw.format == formatCSV {
		h.Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Content-Disposition", `attachment; filename="`+rw.name+"."+rw.format+`"`)
	h.Set("Cache-Control", "no-store")
	rw.w.WriteHeader(http.StatusOK)
	rw.out = bufio.NewWriterSize(&deadlineWriter{w: rw.w, rc: rw.rc}, 32<<10)
	if rw.format == formatCSV {
		rw.csv = csv.NewWriter(rw.out)
		return rw.csv.Write(rw.cols)
	}
	return nil
}

// row writes one row; values are strings, int64s or times (RFC 3339, UTC; the
// zero time is empty).
func (rw *rowWriter) row(values ...any) error {
	if !rw.started {
		if err := rw.start(); err != nil {
			return err
		}
	}
	var err error
	if rw.format == formatCSV {
		rw.fields = rw.fields[:0]
		for _, v := range values {
			rw.fields = append(rw.fields, csvValue(v))
		}
		err = rw.csv.Write(rw.fields)
	} else {
		err = rw.jsonLine(values)
	}
	if err != nil {
		return err
	}
	rw.rows++
	if rw.rows == 1 || rw.rows%flushEvery == 0 {
		return rw.flush()
	}
	return nil
}

func (rw *rowWriter) jsonLine(values []any) error {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, rw.cols[i])
		b = append(b, ':')
		switch x := v.(type) {
		case int64:
			b = strconv.AppendInt(b, x, 10)
		case time.Time:
			if x.IsZero() {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendQuote(b, x.UTC().Format(time.RFC3339Nano))
			}
		default:
			s, _ := json.Marshal(x) // strings: never fails
			b = append(b, s...)
		}
	}
	b = append(b, '}', '\n')
	_, err := rw.out.Write(b)
	return err
}

func csvValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

func (rw *rowWriter) flush() error {
	if rw.csv != nil {
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return err
		}
	}
	if err := rw.out.Flush(); err != nil {
		return err
	}
	return rw.rc.Flush()
}

// close ends the export (an empty one is its headers only).
func (rw *rowWriter) close() error {
	if !rw.started {
		if err := rw.start(); err != nil {
			return err
		}
	}
	return rw.flush()
}

func (rw *rowWriter) entry(e ledger.Entry) error {
	var postings strings.Builder
	for i, p := range e.Postings {
		if i > 0 {
			postings.WriteByte(' ')
		}
		postings.WriteString(p.Account)
		postings.WriteByte(':')
		postings.WriteString(strconv.FormatInt(p.Amount, 10))
	}
	return rw.row(strconv.FormatInt(e.ID, 10), e.CreateTime, e.MemberID, string(e.Kind),
		e.Delta(ledger.AccountAvailable), e.Delta(ledger.AccountPending), e.Delta(ledger.AccountHeld),
		e.AvailableAfter, e.PendingAfter, e.HeldAfter, postings.String(), e.RequestID, e.OrderID,
		optionalString(e.HoldID), optionalString(e.ReversesEntryID), e.ReasonCode, e.Memo)
}

func (rw *rowWriter) coupon(c campaigns.Coupon) error {
	return rw.row(c.Code, c.MemberID, c.CampaignID, c.Kind, c.AmountOffMinor, int64(c.PercentOff), c.MinSpendMinor,
		c.Status, c.IssueTime, c.ValidUntil, c.RedeemTime, c.RedeemOrderID, c.EventOrderID, c.EventType)
}

func optionalString(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
