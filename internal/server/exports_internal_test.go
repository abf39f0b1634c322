package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// flushRecorder is a ResponseWriter that notes how much of the body had reached
// it at each flush.
type flushRecorder struct {
	header  http.Header
	body    bytes.Buffer
	flushes []int
}

func (f *flushRecorder) Header() http.Header         { return f.header }
func (f *flushRecorder) WriteHeader(int)             {}
func (f *flushRecorder) Write(p []byte) (int, error) { return f.body.Write(p) }
func (f *flushRecorder) Flush()                      { f.flushes = append(f.flushes, f.body.Len()) }

// An export does not gather its rows: the first row reaches the client on its
// own, then every flushEvery rows, so what is held is one buffer.
func TestExportRowsAreFlushedAsTheyCome(t *testing.T) {
	for _, format := range []string{formatCSV, formatJSONL} {
		w := &flushRecorder{header: http.Header{}}
		rw := newRowWriter(w, format, "test", []string{"a", "b"})
		const rows = 20_000
		for i := range rows {
			if err := rw.row("x", int64(i)); err != nil {
				t.Fatal(err)
			}
			if i == 0 && (len(w.flushes) != 1 || w.flushes[0] == 0 || w.flushes[0] > 100) {
				t.Fatalf("%s: after the first row, flushes %v", format, w.flushes)
			}
		}
		if err := rw.close(); err != nil {
			t.Fatal(err)
		}
		if len(w.flushes) < rows/flushEvery {
			t.Fatalf("%s: %d flushes for %d rows", format, len(w.flushes), rows)
		}
		// No flush ever carried more than a buffer and a chunk of rows.
		for i := 1; i < len(w.flushes); i++ {
			if d := w.flushes[i] - w.flushes[i-1]; d > 64<<10 {
				t.Fatalf("%s: a flush of %d bytes", format, d)
			}
		}
		if n := strings.Count(w.body.String(), "\n"); n < rows {
			t.Fatalf("%s: %d lines", format, n)
		}
	}
}
