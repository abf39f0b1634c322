package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// commitHistogram is loyaltyd's group-commit histogram on /metrics: its _count is
// the commits of the write path, its _sum the entries they committed.
const commitHistogram = "loyalty_ledger_commit_batch_entries"

// commitCounters are the histogram's totals at one instant.
type commitCounters struct {
	at               time.Time
	commits, entries float64
}

// commitRate is what a write scenario's window did to the write path: commits per
// second and entries per commit (how much group commit gathered).
type commitRate struct {
	CommitsPerSec    float64 `json:"commitsPerSec"`
	EntriesPerCommit float64 `json:"entriesPerCommit"`
}

// scrapeCommits reads the group-commit totals from /metrics on the REST listener.
func (t *target) scrapeCommits(ctx context.Context) (commitCounters, error) {
	b, err := t.rest(ctx, "GET", "/metrics", nil)
	if err != nil {
		return commitCounters{}, err
	}
	c, err := parseCommitCounters(bytes.NewReader(b))
	c.at = time.Now()
	return c, err
}

// parseCommitCounters finds the histogram's _count and _sum lines in the
// Prometheus text format (two unlabelled samples: a line scan is all it takes).
func parseCommitCounters(r io.Reader) (commitCounters, error) {
	var c commitCounters
	var found int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var into *float64
		switch name {
		case commitHistogram + "_count":
			into = &c.commits
		case commitHistogram + "_sum":
			into = &c.entries
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
		*into = v
		found++
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if found < 2 {
		return c, fmt.Errorf("no %s_count and _sum on /metrics", commitHistogram)
	}
	return c, nil
}

// rateBetween is the commit rate from one scrape to the next; nil when nothing
// was committed in between.
func rateBetween(before, after commitCounters) *commitRate {
	commits := after.commits - before.commits
	secs := after.at.Sub(before.at).Seconds()
	if commits <= 0 || secs <= 0 {
		return nil
	}
	return &commitRate{CommitsPerSec: commits / secs, EntriesPerCommit: (after.entries - before.entries) / commits}
}

// commitLines say, for each write scenario that has them, how many commits per
// second its window made and how many entries each carried.
func commitLines(ss []summary, markdown bool) []string {
	var lines []string
	for _, s := range ss {
		if s.Commits == nil {
			continue
		}
		rate, per := fmt.Sprintf("%.0f", s.Commits.CommitsPerSec), fmt.Sprintf("%.2f", s.Commits.EntriesPerCommit)
		if markdown {
			rate, per = thousands(s.Commits.CommitsPerSec), "**"+per+"**"
		}
		lines = append(lines, fmt.Sprintf("%s group commit: %s commits/s, %s entries per commit", s.Name, rate, per))
	}
	return lines
}
