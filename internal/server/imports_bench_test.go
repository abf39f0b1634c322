package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/apitest"
)

// Imports against the baseline of enrolling the same members one call at a time
// (docs/BENCHMARKS.md, "Imports and exports (session 7)"):
//
//	go test -run '^$' -bench 'Import|EnrollBaseline' -benchtime 1x ./internal/server/
//	IMPORT_ROWS=2000000 go test -run '^$' -bench 'ImportMembers$' -benchtime 1x ./internal/server/
//
// Each reports rows (members) per second. The import's file is generated while it
// is uploaded (an io.Pipe), never held in memory; the server runs in the test's
// process, so the process's peak RSS (VmHWM) before and after the import is the
// server's memory for it.

func importRows() int {
	if n, err := strconv.Atoi(os.Getenv("IMPORT_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// sampleFile streams an import file of rows members, prefix-named, every one with an
// opening balance, a third with a tier, all with a metric.
func sampleFile(prefix string, rows int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		var b bytes.Buffer
		b.WriteString("memberId,displayName,joinTime,openingBalance,openingExpiry,tierId,tierMetric\n")
		tiers := []string{"", "silver", ""}
		for i := range rows {
			fmt.Fprintf(&b, "%s%08d,Member number %d,2023-04-01T08:00:00Z,%d,2030-12-31,%s,%d\n", prefix, i, i, 100+i%5000, tiers[i%3], i%3000)
			if b.Len() > 64<<10 {
				if _, err := pw.Write(b.Bytes()); err != nil {
					return
				}
				b.Reset()
			}
		}
		_, _ = pw.Write(b.Bytes())
		_ = pw.Close()
	}()
	return pr
}

func peakRSSKiB() int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func BenchmarkImportMembers(b *testing.B) {
	env := apitest.Start(b)
	rows := importRows()
	b.ResetTimer()
	for i := range b.N {
		before := peakRSSKiB()
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/v1/imports", sampleFile(fmt.Sprintf("b%d-", i), rows))
		req.Header.Set("Authorization", "Bearer "+apitest.AdminKey)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(raw), fmt.Sprintf(`"imported":%d`, rows)) {
			b.Fatalf("import: %d %.300s", resp.StatusCode, raw)
		}
		elapsed := time.Since(start)
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(peakRSSKiB())/1024, "peakRSS_MiB")
		b.ReportMetric(float64(peakRSSKiB()-before)/1024, "peakRSSgrowth_MiB")
	}
}

// The baseline: the same kind of members enrolled through POST /v1/members, 16
// callers at a time (no opening balance: enrolment alone).
func BenchmarkEnrollBaselineREST(b *testing.B) {
	env := apitest.Start(b)
	rows := min(importRows(), 20_000)
	b.ResetTimer()
	for i := range b.N {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1)
					if n > int64(rows) {
						return
					}
					body := fmt.Sprintf(`{"memberId":"e%d-%08d","displayName":"Member number %d"}`, i, n, n)
					req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/v1/members", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+apitest.AdminKey)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("enroll: %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
	}
}
