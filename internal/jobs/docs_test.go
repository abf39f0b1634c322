package jobs_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// snippets are the code blocks of docs/EVENTS.md marked <!-- events-test: LANG -->.
func snippets(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(doc), "\n")
	for i, line := range lines {
		lang, ok := strings.CutPrefix(strings.TrimSpace(line), "<!-- events-test: ")
		if !ok {
			continue
		}
		lang = strings.TrimSuffix(lang, " -->")
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("docs/EVENTS.md:%d: the marker is not right above a code block", i+1)
		}
		var code []string
		for _, l := range lines[i+2:] {
			if strings.HasPrefix(l, "```") {
				break
			}
			code = append(code, l)
		}
		out[lang] = strings.Join(code, "\n") + "\n"
	}
	return out
}

// captured is a delivery as it came.
type captured struct {
	header http.Header
	body   []byte
}

// TestDocsVerifySnippetsAcceptARealDelivery runs the signature checks of
// docs/EVENTS.md on a delivery the dispatcher made: each accepts it, and refuses
// it with the body altered or with another secret. Python and Node run where they
// are installed.
func TestDocsVerifySnippetsAcceptARealDelivery(t *testing.T) {
	t.Parallel()
	code := snippets(t)
	for _, lang := range []string{"go", "python", "node"} {
		if code[lang] == "" {
			t.Fatalf("docs/EVENTS.md has no %s snippet marked for this test", lang)
		}
	}
	env := startWebhooks(t, fastRetry)
	got := make(chan captured, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		select {
		case got <- captured{r.Header.Clone(), b.Bytes()}:
		default:
		}
	}))
	defer srv.Close()
	_, secret := createEndpoint(t, env, srv.URL)
	write(t, env, earned("gus", 5))
	d := <-got

	dir := t.TempDir()
	commands := map[string][]string{}
	gofile := filepath.Join(dir, "verify.go")
	if err := os.WriteFile(gofile, []byte(code["go"]), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "verify")
	build := exec.Command("go", "build", "-o", bin, gofile)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the Go snippet does not build: %v\n%s", err, out)
	}
	commands["go"] = []string{bin}
	for lang, run := range map[string]struct{ bin, file string }{"python": {"python3", "verify.py"}, "node": {"node", "verify.js"}} {
		if _, err := exec.LookPath(run.bin); err != nil {
			t.Logf("%s is not installed: the %s snippet is not run", run.bin, lang)
			continue
		}
		file := filepath.Join(dir, run.file)
		if err := os.WriteFile(file, []byte(code[lang]), 0o600); err != nil {
			t.Fatal(err)
		}
		commands[lang] = []string{run.bin, file}
	}

	verify := func(cmd []string, secret string, body []byte) (string, error) {
		c := exec.Command(cmd[0], cmd[1:]...)
		c.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "WEBHOOK_ID="+d.header.Get("webhook-id"),
			"WEBHOOK_TIMESTAMP="+d.header.Get("webhook-timestamp"), "WEBHOOK_SIGNATURE="+d.header.Get("webhook-signature"))
		c.Stdin = bytes.NewReader(body)
		out, err := c.Output()
		return strings.TrimSpace(string(out)), err
	}
	tampered := bytes.Replace(d.body, []byte(`"points":5`), []byte(`"points":500`), 1)
	if bytes.Equal(tampered, d.body) {
		t.Fatalf("body %s has no points to alter", d.body)
	}
	for lang, cmd := range commands {
		if out, err := verify(cmd, secret, d.body); err != nil || out != "ok" {
			t.Errorf("%s snippet refused a real delivery: %q, %v", lang, out, err)
		}
		if out, err := verify(cmd, secret, tampered); err == nil || out != "invalid" {
			t.Errorf("%s snippet accepted an altered body: %q, %v", lang, out, err)
		}
		if out, err := verify(cmd, "whsec_"+strings.Repeat("A", 43)+"=", d.body); err == nil || out != "invalid" {
			t.Errorf("%s snippet accepted another secret: %q, %v", lang, out, err)
		}
	}
}
