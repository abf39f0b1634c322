package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/proto"
)

// Imports and exports (docs/IMPORT_EXPORT.md) stream files of any size, which the
// gRPC API does not carry: they talk to the REST listener (--http, LOYALTY_HTTP_URL)
// with the same key, show a progress bar with rate and ETA on stderr, and leave
// stdout to the data (an export without --out) or the row report.

func init() {
	commands["import"] = map[string]command{
		"members": {args: "FILE [--dry-run]", follows: true,
			help: "import members from a CSV file (admin); prints the row report, exits 1 if rows failed",
			run:  importMembers},
		"sample": {args: "[--rows N] [--bad K] [--seed S]", local: true,
			help: "write a sample import file to stdout: N members, K of them bad rows",
			run:  importSample},
	}
	commands["export"] = map[string]command{
		"entries": {args: "--from DATE --to DATE [--format csv|jsonl] [--out FILE]", follows: true,
			help: "every member's entries of a period [from, to) (auditor)", run: exportCmd("entries")},
		"statement": {args: "MEMBER [--format csv|jsonl] [--out FILE]", follows: true,
			help: "a member's whole statement, oldest first", run: exportCmd("statement")},
		"liability": {args: "[--format csv|jsonl] [--out FILE]", follows: true,
			help: "the liability report (auditor)", run: exportCmd("liability")},
		"coupons": {args: "CAMPAIGN [--format csv|jsonl] [--out FILE]", follows: true,
			help: "a campaign's coupons", run: exportCmd("coupons")},
	}
}

// httpClient is the REST side of the client: base URL and key.
func (c *client) httpDo(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+c.key)
	hc := &http.Client{}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errors.New("TLS CA: " + c.tlsCA + " holds no PEM certificate")
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	}
	return hc.Do(req)
}

// restError turns a REST error answer into an error with its message and fields.
func restError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st struct {
		Message string `json:"message"`
		Details []struct {
			Reason          string `json:"reason"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if json.Unmarshal(raw, &st) != nil || st.Message == "" {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	msg := fmt.Sprintf("HTTP %d: %s", resp.StatusCode, st.Message)
	for _, d := range st.Details {
		for _, fv := range d.FieldViolations {
			msg += fmt.Sprintf("\n  %s: %s", fv.Field, fv.Description)
		}
		if d.Reason != "" {
			msg += "\n  reason: " + d.Reason
		}
	}
	return errors.New(msg)
}

// newByteBar is the progress bar of an upload or a download, in bytes with their
// rate and the time left (size -1: unknown, a spinner); newBar (bulk.go) counts
// members.
func newByteBar(w io.Writer, size int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true), // the ETA
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// importReport is the server's answer to an import.
type importReport struct {
	DryRun    bool              `json:"dryRun"`
	Rows      int64             `json:"rows"`
	Imported  int64             `json:"imported"`
	Unchanged int64             `json:"unchanged"`
	Failed    int64             `json:"failed"`
	Errors    []json.RawMessage `json:"errors"`
}

func importMembers(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
	dryRun := fs.Bool("dry-run", false, "check every row and report, writing nothing")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bar := newByteBar(c.stderr, info.Size(), "importing")
	body := progressbar.NewReader(f, bar)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.httpURL+"/v1/imports?dryRun="+strconv.FormatBool(*dryRun), &body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = info.Size()
	req.Header.Set("Content-Type", "text/csv")
	resp, err := c.httpDo(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_ = bar.Finish()
	if resp.StatusCode != http.StatusOK {
		return nil, restError(resp)
	}
	var rep importReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return nil, fmt.Errorf("read the row report: %w", err)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(c.stdout, string(e))
	}
	verb := "imported"
	if rep.DryRun {
		verb = "would import"
	}
	fmt.Fprintf(c.stderr, "%d rows: %s %d, %d unchanged, %d failed\n", rep.Rows, verb, rep.Imported, rep.Unchanged, rep.Failed)
	if rep.Failed > 0 {
		return nil, fmt.Errorf("%d of %d rows failed (listed above, one JSON object per row: line, column, reason)", rep.Failed, rep.Rows)
	}
	return nil, nil
}

// importSample writes a sample import file: rows members (m0000001, ...), with
// bad rows among them, one of each kind of mistake in turn, spread through the file.
func importSample(_ context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
	rows := fs.Int("rows", 1000, "members in the file")
	bad := fs.Int("bad", 0, "how many of them are bad rows")
	seed := fs.Uint64("seed", 1, "random seed (the same seed, the same file)")
	if _, err := parse(fs, args, 0); err != nil {
		return nil, err
	}
	if *rows < 0 || *bad < 0 || *bad > *rows {
		return nil, fmt.Errorf("--bad must be between 0 and --rows: %w", errUsage)
	}
	return nil, writeSample(c.stdout, *rows, *bad, *seed)
}

func writeSample(w io.Writer, rows, bad int, seed uint64) error {
	out := bufio.NewWriterSize(w, 64<<10)
	rnd := rand.New(rand.NewPCG(seed, 7))
	tiers := []string{"", "", "", "", "", "silver", "gold", "platinum"}
	mistakes := []string{
		"m%07d,Bad balance,2024-01-15,-5,,,",      // openingBalance below zero
		"m%07d,Bad tier,2024-01-15,100,,diamond,", // not a tier of the policy
		"m%07d,Bad date,15/01/2024,100,,,",        // joinTime not a date
		"m%07d,Bad metric,2024-01-15,100,,,lots",  // tierMetric not a number
		"bad id %07d,Bad id,2024-01-15,100,,,",    // memberId with a space
	}
	fmt.Fprintln(out, "memberId,displayName,joinTime,openingBalance,openingExpiry,tierId,tierMetric")
	every := 0
	if bad > 0 {
		every = rows / bad
	}
	nextYear := time.Now().UTC().AddDate(1, 0, 0).Format("2006") + "-12-31"
	made := 0
	for i := 1; i <= rows; i++ {
		if every > 0 && made < bad && i%every == every/2 {
			fmt.Fprintf(out, mistakes[made%len(mistakes)]+"\n", i)
			made++
			continue
		}
		joined := time.Date(2018+rnd.IntN(7), time.Month(1+rnd.IntN(12)), 1+rnd.IntN(28), 0, 0, 0, 0, time.UTC)
		fmt.Fprintf(out, "m%07d,Member %d,%s,%d,%s,%s,%d\n", i, i, joined.Format(time.DateOnly), rnd.IntN(5000), nextYear,
			tiers[rnd.IntN(len(tiers))], rnd.IntN(3000))
	}
	return out.Flush()
}

// exportCmd downloads one export to --out (or stdout), with a progress bar of
// the bytes that came and their rate.
func exportCmd(kind string) func(context.Context, *client, *flag.FlagSet, []string) (proto.Message, error) {
	return func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
		format := fs.String("format", "csv", "csv or jsonl")
		outFile := fs.String("out", "", "write to this file (default: stdout)")
		var from, to *string
		positional := 1
		if kind == "entries" {
			from = fs.String("from", "", "first instant or date of the period (RFC 3339 or 2026-11-01)")
			to = fs.String("to", "", "end of the period, excluded")
		}
		if kind == "entries" || kind == "liability" {
			positional = 0
		}
		pos, err := parse(fs, args, positional)
		if err != nil {
			return nil, err
		}
		q := url.Values{"format": {*format}}
		var path string
		switch kind {
		case "entries":
			q.Set("from", *from)
			q.Set("to", *to)
			path = "/v1/exports/entries"
		case "statement":
			path = "/v1/exports/members/" + url.PathEscape(pos[0]) + "/statement"
		case "liability":
			path = "/v1/exports/liability"
		case "coupons":
			path = "/v1/exports/campaigns/" + url.PathEscape(pos[0]) + "/coupons"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.httpURL+path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.httpDo(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, restError(resp)
		}
		var w io.Writer = c.stdout
		if *outFile != "" {
			f, err := os.Create(*outFile)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			w = f
		}
		bar := newByteBar(c.stderr, -1, "exporting")
		lines := &lineCounter{}
		n, err := io.Copy(io.MultiWriter(w, bar, lines), resp.Body)
		_ = bar.Finish()
		if err != nil {
			// A cut-off transfer: the server could not finish the export.
			return nil, fmt.Errorf("the export was cut off after %d bytes: %w", n, err)
		}
		fmt.Fprintf(c.stderr, "exported %d lines, %d bytes\n", lines.n, n)
		return nil, nil
	}
}

type lineCounter struct{ n int64 }

func (l *lineCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			l.n++
		}
	}
	return len(p), nil
}
