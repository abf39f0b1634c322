package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// The README's walkthrough in small: a sample file with bad rows, imported (the
// report on stdout, a summary and exit 1), the month's entries exported.
func TestImportAndExportFromTheCommandLine(t *testing.T) {
	env := apitest.Start(t)
	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		getenv := func(name string) string {
			switch name {
			case "LOYALTY_GRPC_ADDR":
				return env.GRPCAddr
			case "LOYALTY_HTTP_URL":
				return env.BaseURL
			case "LOYALTY_API_KEY":
				return apitest.AdminKey
			}
			return ""
		}
		code := run(args, getenv, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	dir := t.TempDir()
	code, sample, _ := ctl("import", "sample", "--rows", "1000", "--bad", "3")
	if code != exitOK || strings.Count(sample, "\n") != 1001 {
		t.Fatalf("sample: exit %d, %d lines", code, strings.Count(sample, "\n"))
	}
	file := filepath.Join(dir, "members.csv")
	if err := os.WriteFile(file, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	code, report, summary := ctl("import", "members", file)
	if code != exitError || strings.Count(report, "\n") != 3 || !strings.Contains(summary, "1000 rows: imported 997, 0 unchanged, 3 failed") ||
		!strings.Contains(report, `"column":"openingBalance"`) || !strings.Contains(report, `"column":"tierId"`) || !strings.Contains(report, `"column":"joinTime"`) {
		t.Fatalf("import: exit %d\n%s\n%s", code, report, summary)
	}
	if code, _, summary := ctl("import", "members", file, "--dry-run"); code != exitError || !strings.Contains(summary, "would import 0, 997 unchanged, 3 failed") {
		t.Fatalf("dry run again: exit %d %s", code, summary)
	}
	out := filepath.Join(dir, "entries.csv")
	now := time.Now().UTC()
	code, _, summary = ctl("export", "entries", "--from", now.AddDate(0, 0, -1).Format(time.DateOnly), "--to", now.AddDate(0, 0, 2).Format(time.DateOnly), "--out", out)
	got, _ := os.ReadFile(out)
	if code != exitOK || !strings.Contains(summary, "exported") || !strings.HasPrefix(string(got), "entryId,createTime,memberId,kind") {
		t.Fatalf("export: exit %d %s %.200s", code, summary, got)
	}
	if code, _, errOut := ctl("export", "entries", "--to", "2026-01-01"); code != exitError || !strings.Contains(errOut, "from:") {
		t.Fatalf("export without --from: exit %d %s", code, errOut)
	}
}
