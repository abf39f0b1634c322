package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/loyalty-engine/loyalty/internal/webhookhttp"
	"github.com/loyalty-engine/loyalty/internal/webhooksig"
)

// listenCommand is `webhooks listen` (webhooks.go lists it).
func listenCommand() command {
	return command{
		args: "--secret whsec_... [--addr HOST:PORT] [--fail-first N]", follows: true, local: true,
		help: "receive webhook deliveries here, to try them: verify each signature, answer 204 (401 if it is not " +
			"genuine), print one JSON line per delivery, until interrupted (needs no server or key)",
		run: func(ctx context.Context, c *client, fs *flag.FlagSet, args []string) (proto.Message, error) {
			addr := fs.String("addr", "127.0.0.1:8099", "where to listen (register http://HOST:PORT/ as the endpoint's url)")
			secret := fs.String("secret", "", "the endpoint's whsec_ secret (shown when it was created or rotated)")
			failFirst := fs.Int("fail-first", 0, "answer 503 to the first N genuine attempts, to watch the retries")
			if _, err := parse(fs, args, 0); err != nil {
				return nil, err
			}
			key, err := webhooksig.Parse(*secret)
			if err != nil || *failFirst < 0 {
				return nil, errUsage
			}
			return nil, listen(ctx, *addr, &webhookhttp.Receiver{Secret: key, FailFirst: *failFirst}, c.stdout, c.stderr)
		}}
}

// listen serves r on addr until ctx ends, printing a line per delivery to out.
func listen(ctx context.Context, addr string, r *webhookhttp.Receiver, out, status io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex // one delivery's line at a time, each written whole
	r.OnDelivery = func(d webhookhttp.Received) {
		line := deliveryLine(d)
		mu.Lock()
		defer mu.Unlock()
		// One Write per line, unbuffered: a pipe or a file sees each delivery at once.
		_, _ = out.Write(line)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(status, "loyaltyctl: listening on http://%s/, Ctrl-C stops\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil // interrupted: the normal end of a listener
	}
}

// listenLine is what listen prints of a delivery.
type listenLine struct {
	Time      string `json:"time"`
	WebhookID string `json:"webhookId"`
	Type      string `json:"type,omitempty"`
	MemberID  string `json:"memberId,omitempty"`
	MemberSeq int64  `json:"memberSeq,omitempty"`
	Summary   string `json:"summary,omitempty"`
	Signature string `json:"signature"` // "ok", or why not
	Status    int    `json:"status"`    // what the listener answered
	Attempt   int    `json:"attempt,omitempty"`
}

func deliveryLine(d webhookhttp.Received) []byte {
	l := listenLine{Time: d.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"), WebhookID: d.ID, Type: d.Type,
		MemberID: d.MemberID, MemberSeq: d.MemberSeq, Summary: summary(d.Data), Signature: "ok", Status: d.Status, Attempt: d.Attempt}
	if d.SignatureErr != nil {
		l.Signature = "invalid: " + strings.TrimPrefix(d.SignatureErr.Error(), "unable to verify payload, err: ")
	}
	b, _ := json.Marshal(l) // strings and numbers only: never fails
	return append(b, '\n')
}

// summaryFirst are the data fields that tell most, shown first in this order; the
// other scalar fields follow by name.
var summaryFirst = []string{"kind", "points", "available", "pending", "held", "orderId", "holdId",
	"fromTierId", "toTierId", "change", "campaignId", "status", "couponId"}

// maxSummary keeps a line short: the feed has every field.
const maxSummary = 160

// summary is the data's scalar fields as k=v, memberId and memberSeq left out (they
// have their own).
func summary(data map[string]json.RawMessage) string {
	keys := make([]string, 0, len(data))
	for k, v := range data {
		if k == "memberId" || k == "memberSeq" || len(v) == 0 || v[0] == '{' || v[0] == '[' || string(v) == "null" {
			continue
		}
		keys = append(keys, k)
	}
	rank := func(k string) int {
		for i, f := range summaryFirst {
			if f == k {
				return i
			}
		}
		return len(summaryFirst)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		return ri < rj || ri == rj && keys[i] < keys[j]
	})
	var b bytes.Buffer
	for _, k := range keys {
		v := data[k]
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // a number or a bool
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", k, s)
	}
	s := b.String()
	if len(s) > maxSummary {
		n := maxSummary
		for !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}
