package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/console"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// assetPaths reads the script and stylesheet index.html loads.
func assetPaths(t *testing.T, index string) []string {
	t.Helper()
	found := regexp.MustCompile(`(?:src|href)="(/console/assets/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(found) < 2 {
		t.Fatalf("index.html names %d assets, want a script and a stylesheet:\n%s", len(found), index)
	}
	var paths []string
	for _, m := range found {
		paths = append(paths, m[1])
	}
	return paths
}

func TestIndexIsRevalidatedAndForbidsOutsideRequests(t *testing.T) {
	h := console.Handler()
	for _, path := range []string{"/console/", "/console"} {
		resp := get(t, h, http.MethodGet, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", path, got)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "font-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
			t.Errorf("index.html names an outside URL:\n%s", body)
		}
		assetPaths(t, string(body))
	}
}

func TestHashedAssetsAreImmutable(t *testing.T) {
	h := console.Handler()
	index, _ := io.ReadAll(get(t, h, http.MethodGet, "/console/").Body)
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, path := range assetPaths(t, string(index)) {
		resp := get(t, h, http.MethodGet, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		ext := path[strings.LastIndex(path, "."):]
		if got := resp.Header.Get("Content-Type"); got != types[ext] {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, types[ext])
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", path, got)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
		etag := resp.Header.Get("ETag")
		if again := get(t, h, http.MethodGet, path, "If-None-Match", etag); etag == "" || again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q: %d, want 304", path, etag, again.StatusCode)
		}
	}
}

func TestUnknownPathsAndMethodsAreRefused(t *testing.T) {
	h := console.Handler()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/console/assets/nope.js", http.StatusNotFound},
		{http.MethodGet, "/console/../go.mod", http.StatusNotFound},
		{http.MethodGet, "/console/assets", http.StatusNotFound},
		{http.MethodGet, "/consolex", http.StatusNotFound},
		{http.MethodPost, "/console/", http.StatusMethodNotAllowed},
		{http.MethodHead, "/console/", http.StatusOK},
	} {
		if got := get(t, h, c.method, c.path).StatusCode; got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
}

// TestFirstLoadIsSmall keeps what the first visit downloads under 250 KB gzipped.
func TestFirstLoadIsSmall(t *testing.T) {
	h := console.Handler()
	index, _ := io.ReadAll(get(t, h, http.MethodGet, "/console/").Body)
	total := gzipped(t, index)
	for _, path := range assetPaths(t, string(index)) {
		body, _ := io.ReadAll(get(t, h, http.MethodGet, path).Body)
		total += gzipped(t, body)
	}
	t.Logf("first load: %d bytes gzipped", total)
	if total > 250_000 {
		t.Errorf("first load is %d bytes gzipped, over 250 KB", total)
	}
}

func gzipped(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}
