// Package console serves the web console: the TypeScript app under src/, built by
// Vite into dist/ (committed, so that go build needs no npm) and embedded here.
// loyaltyd serves it at /console/ beside the REST API it calls.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the console is served; Vite builds it with the same base.
const Prefix = "/console/"

// policy forbids every request outside the console's own origin: no CDN, no remote
// font, no inline script. The app calls the API on the same origin.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// contentTypes names the type of every kind of file the build makes, instead of
// asking the machine's MIME tables, which differ from one host to the next.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
	".json":  "application/json",
}

// Handler serves the built console: index.html at /console/ (and /console), the
// files of dist/ below it. Vite names the files under assets/ by their content's
// hash, so they are cached for a year; index.html is revalidated on every load, so
// that a new loyaltyd is seen at once.
func Handler() http.Handler {
	h := handler{files: map[string]file{}}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.files[strings.TrimPrefix(p, "dist/")] = file{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // dist is embedded at build time: reading it cannot fail
	}
	return h
}

// file is one built file and its ETag (its content's hash), computed once.
type file struct {
	body []byte
	etag string
}

type handler struct{ files map[string]file }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := h.fileOf(r.URL.Path)
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f, ok := h.files[name]
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("ETag", f.etag)
	hdr.Set("Content-Type", contentTypes[path.Ext(name)])
	hdr.Set("Content-Security-Policy", policy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	switch {
	case strings.HasPrefix(name, "assets/"):
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	case name == "index.html":
		hdr.Set("Cache-Control", "no-cache")
	default:
		hdr.Set("Cache-Control", "public, max-age=3600")
	}
	// ServeContent answers If-None-Match with 304 (by the ETag) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// fileOf maps a request path to a file of dist/; ok is false for a path outside the
// console, a directory, or a file of a type the console does not serve.
func (handler) fileOf(urlPath string) (string, bool) {
	if urlPath == strings.TrimSuffix(Prefix, "/") || urlPath == Prefix {
		return "index.html", true
	}
	name, ok := strings.CutPrefix(urlPath, Prefix)
	if !ok || !fs.ValidPath(name) {
		return "", false
	}
	if _, known := contentTypes[path.Ext(name)]; !known {
		return "", false
	}
	return name, true
}
