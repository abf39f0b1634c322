package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
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
//	IMPORT_BYTES=1073741824 IMPORT_NAME_LEN=200 go test -run '^$' -bench 'ImportMembers$' -benchtime 1x -timeout 3h ./internal/server/
//
// IMPORT_BYTES sizes the file in bytes instead of rows (the rows it holds are
// counted as they are written); IMPORT_NAME_LEN pads each displayName to that many
// characters (at most 200, the column's limit), for a large file in fewer rows.
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

// importSize is the file's size: IMPORT_BYTES bytes (0: importRows rows).
func importSize() (rows int, bytes int64) {
	if n, err := strconv.ParseInt(os.Getenv("IMPORT_BYTES"), 10, 64); err == nil && n > 0 {
		return 0, n
	}
	return importRows(), 0
}

// sampleFile streams an import file of rows members (or of maxBytes bytes, when
// rows is 0), prefix-named, every one with an opening balance, a third with a
// tier, all with a metric; written reports the rows and bytes once it is whole.
func sampleFile(prefix string, rows int, maxBytes int64, written func(rows int, bytes int64)) io.Reader {
	nameLen, _ := strconv.Atoi(os.Getenv("IMPORT_NAME_LEN"))
	nameLen = min(nameLen, 200)
	pr, pw := io.Pipe()
	go func() {
		var b bytes.Buffer
		var total int64
		b.WriteString("memberId,displayName,joinTime,openingBalance,openingExpiry,tierId,tierMetric\n")
		tiers := []string{"", "silver", ""}
		i := 0
		for ; rows == 0 || i < rows; i++ {
			mark := b.Len()
			name := fmt.Sprintf("Member number %d", i)
			if pad := nameLen - len(name); pad > 0 {
				name += strings.Repeat(".", pad)
			}
			fmt.Fprintf(&b, "%s%08d,%s,2023-04-01T08:00:00Z,%d,2030-12-31,%s,%d\n", prefix, i, name, 100+i%5000, tiers[i%3], i%3000)
			if maxBytes > 0 && total+int64(b.Len()) > maxBytes {
				b.Truncate(mark)
				break
			}
			if b.Len() > 64<<10 {
				if _, err := pw.Write(b.Bytes()); err != nil {
					written(i, total) // the server stopped reading: what it got
					return
				}
				total += int64(b.Len())
				b.Reset()
			}
		}
		_, _ = pw.Write(b.Bytes())
		total += int64(b.Len())
		written(i, total)
		_ = pw.Close()
	}()
	return pr
}

// statusKiB is a VmXXX line of /proc/self/status, in KiB: VmHWM the peak RSS,
// VmRSS the RSS now.
func statusKiB(field string) int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func peakRSSKiB() int64 { return statusKiB("VmHWM") }

// rssSampler samples the process's RSS every second while an import runs: the
// highest RSS of its first and of its last tenth (by time) tell whether memory
// grew with the rows.
type rssSampler struct {
	mu      sync.Mutex
	samples []int64
	stop    chan struct{}
	done    sync.WaitGroup
}

func sampleRSS() *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			s.mu.Lock()
			s.samples = append(s.samples, statusKiB("VmRSS"))
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// tenths ends the sampling and answers the highest RSS (MiB) of the first and last
// tenth of the samples.
func (s *rssSampler) tenths() (first, last float64) {
	close(s.stop)
	s.done.Wait()
	n := len(s.samples)
	k := max(1, n/10)
	return float64(slices.Max(s.samples[:k])) / 1024, float64(slices.Max(s.samples[n-k:])) / 1024
}

func BenchmarkImportMembers(b *testing.B) {
	env := apitest.Start(b)
	wantRows, maxBytes := importSize()
	b.ResetTimer()
	for i := range b.N {
		before := peakRSSKiB()
		start := time.Now()
		// The generator reports what it wrote through a channel: it runs in a
		// goroutine of its own, and the answer is read after it ended.
		written := make(chan [2]int64, 1)
		rss := sampleRSS()
		file := sampleFile(fmt.Sprintf("b%d-", i), wantRows, maxBytes, func(r int, n int64) { written <- [2]int64{int64(r), n} })
		req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/v1/imports", file)
		req.Header.Set("Authorization", "Bearer "+apitest.AdminKey)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		w := <-written
		rows, size := int(w[0]), w[1]
		if resp.StatusCode != 200 || !strings.Contains(string(raw), fmt.Sprintf(`"imported":%d`, rows)) {
			b.Fatalf("import: %d %.300s", resp.StatusCode, raw)
		}
		elapsed := time.Since(start)
		first, last := rss.tenths()
		b.ReportMetric(float64(rows), "rows")
		b.ReportMetric(float64(size)/(1<<20), "file_MiB")
		b.ReportMetric(first, "RSS_first_tenth_MiB")
		b.ReportMetric(last, "RSS_last_tenth_MiB")
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
