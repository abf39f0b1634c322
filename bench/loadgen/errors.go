package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// maxDistinctErrors bounds how many different error messages a scenario keeps;
// further distinct messages are counted under "(other errors)".
const maxDistinctErrors = 10

type errorSample struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// errorLog counts a scenario's errors by message, in the order first seen.
type errorLog struct {
	mu      sync.Mutex
	order   []string
	counts  map[string]int64
	dropped int64
}

func newErrorLog() *errorLog { return &errorLog{counts: map[string]int64{}} }

// Member ids and request ids differ from call to call; without them, the same
// failure is one message.
var (
	memberIDRe  = regexp.MustCompile(`bench-[0-9]+`)
	requestIDRe = regexp.MustCompile(`-w[0-9]+-[0-9]+`)
)

func (l *errorLog) add(err error) {
	msg := err.Error()
	msg = memberIDRe.ReplaceAllString(msg, "bench-N")
	msg = requestIDRe.ReplaceAllString(msg, "-wN-N")
	msg = oneLine(msg, 300)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.counts[msg]; !ok {
		if len(l.order) >= maxDistinctErrors {
			l.dropped++
			return
		}
		l.order = append(l.order, msg)
	}
	l.counts[msg]++
}

func (l *errorLog) samples() []errorSample {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]errorSample, 0, len(l.order)+1)
	for _, m := range l.order {
		out = append(out, errorSample{Message: m, Count: l.counts[m]})
	}
	if l.dropped > 0 {
		out = append(out, errorSample{Message: "(other errors)", Count: l.dropped})
	}
	return out
}

// oneLine squeezes whitespace and truncates, so that a response body prints as one
// readable line.
func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

// httpStatusError is a REST answer that was not 2xx.
type httpStatusError struct {
	method, path string
	status       int
	body         string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("REST %s %s: HTTP %d: %s", e.method, e.path, e.status, e.body)
}
