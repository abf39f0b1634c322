package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseCommitCounters(t *testing.T) {
	text := `# HELP loyalty_ledger_commit_batch_entries Entries committed together by group commit.
# TYPE loyalty_ledger_commit_batch_entries histogram
loyalty_ledger_commit_batch_entries_bucket{le="1"} 10
loyalty_ledger_commit_batch_entries_bucket{le="+Inf"} 40
loyalty_ledger_commit_batch_entries_sum 123.5
loyalty_ledger_commit_batch_entries_count 40
loyalty_ledger_commit_batch_entries_other 7
`
	c, err := parseCommitCounters(strings.NewReader(text))
	if err != nil || c.commits != 40 || c.entries != 123.5 {
		t.Fatalf("got %+v, %v; want 40 commits of 123.5 entries", c, err)
	}
	if _, err := parseCommitCounters(strings.NewReader("go_goroutines 12\n")); err == nil {
		t.Error("no histogram: want an error")
	}
	if _, err := parseCommitCounters(strings.NewReader("loyalty_ledger_commit_batch_entries_sum x\nloyalty_ledger_commit_batch_entries_count 1\n")); err == nil {
		t.Error("a bad value: want an error")
	}
}

func TestRateBetween(t *testing.T) {
	t0 := time.Unix(0, 0)
	r := rateBetween(commitCounters{at: t0, commits: 100, entries: 300}, commitCounters{at: t0.Add(2 * time.Second), commits: 1100, entries: 4300})
	if r == nil || r.CommitsPerSec != 500 || r.EntriesPerCommit != 4 {
		t.Fatalf("got %+v, want 500 commits/s of 4 entries", r)
	}
	if r := rateBetween(commitCounters{at: t0, commits: 5}, commitCounters{at: t0.Add(time.Second), commits: 5}); r != nil {
		t.Errorf("no commits: got %+v, want nil", r)
	}
	lines := commitLines([]summary{{Name: "rest-balance"}, {Name: "rest-earn", Commits: &commitRate{CommitsPerSec: 1234.4, EntriesPerCommit: 2.345}}}, true)
	if len(lines) != 1 || lines[0] != "rest-earn group commit: 1,234 commits/s, **2.35** entries per commit" {
		t.Errorf("lines %q", lines)
	}
}
