package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/loyalty-engine/loyalty/access"
	"github.com/loyalty-engine/loyalty/campaigns"
	"github.com/loyalty-engine/loyalty/internal/audit"
	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/replica"
	"github.com/loyalty-engine/loyalty/ledger"
	"github.com/loyalty-engine/loyalty/ledger/importfile"
)

// The streamed REST routes (docs/IMPORT_EXPORT.md): a member import uploads a CSV
// file of any size and exports download one. Neither fits a gRPC message or the
// gateway's JSON body, so they are handlers of their own, next to the gateway,
// behind the same door: request id, the bearer key authenticated and the role
// table (roles.go, under the /rest/... names below) checked before the body is
// read, the upload bounded, the import audited. Exports are reads and stream from
// a cursor: each row is written as it comes, flushed in chunks (chunked transfer
// encoding), never gathered.

// The operations' names in the role table and the audit log.
const (
	opImportMembers   = "/rest/ImportMembers"
	opExportEntries   = "/rest/ExportEntries"
	opExportStatement = "/rest/ExportStatement"
	opExportLiability = "/rest/ExportLiability"
	opExportCoupons   = "/rest/ExportCoupons"
)

// DefaultMaxImportBytes bounds an import's upload when none is configured: 2 GiB.
const DefaultMaxImportBytes = 2 << 30

var (
	errUnsupportedMedia = problem.New(problem.Invalid, "UNSUPPORTED_MEDIA_TYPE", "an import takes the CSV file as the request body")
)

// streamRoute is one streamed route: its method, its path (a "{}" segment takes a
// path variable) and its operation.
type streamRoute struct {
	method string
	path   []string
	op     string
	// query: the parameters it takes.
	query []string
}

var streamRoutes = []streamRoute{
	{http.MethodPost, []string{"v1", "imports"}, opImportMembers, []string{"dryRun"}},
	{http.MethodGet, []string{"v1", "exports", "entries"}, opExportEntries, []string{"from", "to", "format"}},
	{http.MethodGet, []string{"v1", "exports", "members", "{}", "statement"}, opExportStatement, []string{"format"}},
	{http.MethodGet, []string{"v1", "exports", "liability"}, opExportLiability, []string{"format"}},
	{http.MethodGet, []string{"v1", "exports", "campaigns", "{}", "coupons"}, opExportCoupons, []string{"format"}},
}

// matchStream finds the streamed route of a path: the route and its path
// variable, or the methods the path takes (nil: not a streamed path).
func matchStream(method, path string) (*streamRoute, string, []string) {
	comps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var allow []string
	for i := range streamRoutes {
		r := &streamRoutes[i]
		if len(r.path) != len(comps) {
			continue
		}
		variable, ok := "", true
		for j, seg := range r.path {
			switch {
			case seg == "{}" && comps[j] != "":
				variable = comps[j]
			case seg != comps[j]:
				ok = false
			}
		}
		if !ok {
			continue
		}
		if r.method == method {
			return r, variable, nil
		}
		allow = append(allow, r.method)
	}
	return nil, "", allow
}

// streamREST serves the streamed routes.
type streamREST struct {
	keys      authenticator
	errors    restErrors
	audit     *audit.Store
	ledger    *ledger.Service
	campaigns *campaigns.Service
	reads     *replica.Router
	maxImport int64
}

// serve answers a request for a streamed path (matchStream found it).
func (h *streamREST) serve(w http.ResponseWriter, r *http.Request, route *streamRoute, variable string) {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	ctx := r.Context()
	// Nothing of the body is read before the key and its role pass.
	key, err := h.keys.Authenticate(ctx, parseBearer(r.Header.Get("Authorization")))
	if err != nil {
		h.errors.refuse(ctx, w, r, err)
		return
	}
	if !Allowed(key.Role, route.op) {
		h.finish(ctx, route.op, key, r, permissionDenied(key.Role, route.op))
		h.errors.refuse(ctx, w, r, permissionDenied(key.Role, route.op))
		return
	}
	query, err := streamQuery(r.URL.RawQuery, route.query)
	if err != nil {
		h.finish(ctx, route.op, key, r, err)
		h.errors.refuse(ctx, w, r, err)
		return
	}
	switch route.op {
	case opImportMembers:
		h.importMembers(w, r, key, query)
	default:
		h.export(w, r, route.op, variable, query)
	}
}

// streamQuery parses the query, refusing a parameter the route does not take or
// one given twice, naming it.
func streamQuery(raw string, takes []string) (map[string]string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errMalformedQuery.With("the query string is malformed: %s", "use percent-encoding for reserved characters")
	}
	out := map[string]string{}
	for _, name := range sortedKeys(values) {
		known := false
		for _, t := range takes {
			known = known || t == name
		}
		switch {
		case !known:
			return nil, errUnknownQueryParameter.WithField(name, fmt.Sprintf("is not a query parameter of this request (it takes %s)", strings.Join(takes, ", ")))
		case len(values[name]) > 1:
			return nil, invalidValue(name, "is given more than once")
		}
		out[name] = values[name][0]
	}
	return out, nil
}

// finish writes the audit record of an import (exports are reads, not audited).
func (h *streamREST) finish(ctx context.Context, op string, key access.Key, r *http.Request, err error, summary ...string) {
	if op != opImportMembers || h.audit == nil {
		return
	}
	call := h.audit.Start(op)
	call.Identify(key.ID, string(key.Role))
	call.Describe("imports", "", r.Header.Get(idempotencyKeyHeader))
	outcome, reason := "OK", strings.Join(summary, " ")
	if err != nil {
		st, _ := h.errors.status(ctx, err)
		outcome, reason = outcomeOf(st.Err())
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.audit.Finish(wctx, call, outcome, reason); err != nil {
		h.errors.log.ErrorContext(ctx, "audit record not written", "error", err, "method", op)
	}
}

// importMembers is POST /v1/imports: the CSV file is the body, read as a stream and
// imported batch by batch while it arrives (importfile.Run); refused rows are
// spooled to a temporary file (constant memory however many there are) and the
// answer, once the whole file is read, is the summary and every refused row.
func (h *streamREST) importMembers(w http.ResponseWriter, r *http.Request, key access.Key, query map[string]string) {
	ctx := r.Context()
	refuse := func(err error) {
		h.finish(ctx, opImportMembers, key, r, err)
		h.errors.refuse(ctx, w, r, err)
	}
	dryRun := false
	if v, ok := query["dryRun"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			refuse(invalidValue("dryRun", "must be true or false"))
			return
		}
		dryRun = b
	}
	if r.ContentLength > h.maxImport {
		refuse(bodyTooLarge(h.maxImport))
		return
	}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") || strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		refuse(&httpError{status: http.StatusUnsupportedMediaType, code: 3,
			err: errUnsupportedMedia.WithField("body", "send the CSV file itself as the body (Content-Type: text/csv), not a form")})
		return
	}
	spool, err := os.CreateTemp("", "loyalty-import-*.jsonl")
	if err != nil {
		refuse(fmt.Errorf("spool the row report: %w", err))
		return
	}
	defer func() { _ = spool.Close(); _ = os.Remove(spool.Name()) }()
	spooled := bufio.NewWriterSize(spool, 64<<10)
	enc := json.NewEncoder(spooled)

	rc := http.NewResponseController(w)
	body := &deadlineReader{r: http.MaxBytesReader(w, r.Body, h.maxImport), rc: rc}
	rep, err := importfile.Run(ctx, body, h.ledger, importfile.Options{DryRun: dryRun}, func(e importfile.RowError) error {
		return enc.Encode(e)
	})
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = bodyTooLarge(h.maxImport)
		}
		refuse(err)
		return
	}
	if err := spooled.Flush(); err != nil {
		refuse(fmt.Errorf("spool the row report: %w", err))
		return
	}
	h.finish(ctx, opImportMembers, key, r, nil, fmt.Sprintf("dryRun=%t rows=%d imported=%d unchanged=%d failed=%d",
		rep.DryRun, rep.Rows, rep.Imported, rep.Unchanged, rep.Failed))
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		h.errors.write(ctx, w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
	head, _ := json.Marshal(rep)
	out := bufio.NewWriterSize(&deadlineWriter{w: w, rc: rc}, 64<<10)
	_, _ = out.Write(head[:len(head)-1])
	_, _ = out.WriteString(`,"errors":[`)
	lines := bufio.NewScanner(spool)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for first := true; lines.Scan(); first = false {
		if !first {
			_ = out.WriteByte(',')
		}
		_, _ = out.Write(lines.Bytes())
	}
	_, _ = out.WriteString("]}\n")
	_ = out.Flush()
}

// deadlineReader moves the connection's read deadline forward while the upload
// keeps coming: the server's ReadTimeout bounds a stalled upload, not a long one.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(30 * time.Second))
	return d.r.Read(p)
}

// deadlineWriter does the same for a download: each write may take up to a
// minute, the whole export as long as it keeps moving.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(time.Minute))
	return d.w.Write(p)
}
