// Package readmetest runs the README's shell examples, top to bottom, against a real
// `loyaltyd --demo` and checks what the README says they answer. A README that drifts
// from the code fails `make test`.
//
// The conventions the README follows (its "How to read the examples" note says the
// same for people):
//   - Every ```sh block runs, in order, in one bash session (variables carry over),
//     unless the line before its fence is <!-- readme-test: skip -->.
//   - A line starting with `make ` does not run: the test has built the binaries.
//   - A comment line `# → …` right under a command states its answer: an HTTP status,
//     an ErrorInfo reason (UPPER_SNAKE_CASE), and/or a JSON object that the answer
//     must contain (objects match key by key, arrays element by element in any
//     order, a number matches the same number written as a string, as protojson
//     writes int64). `# → exit N` states a command's exit status.
//   - Without `# →`, every HTTP call of a command must answer 2xx and every command
//     must exit 0. With it, the expectation is about the command's last HTTP call and
//     the calls before it must answer 2xx.
//   - `API=…` is pointed at the test's server; loyaltyctl finds it through
//     LOYALTY_GRPC_ADDR. `RECEIVER=…` (the local webhook receiver's address) is
//     pointed at a free port.
//   - loyaltyd runs with the flags `make run` gives it (--demo, and the loopback
//     webhook allow-list of the demo).
//   - A command may start a process in the background (`... &`, the webhook
//     receiver): the test kills what is left of them when it ends.
package readmetest

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loyalty-engine/loyalty/internal/proctest"
)

// command is one shell command of the README with what the README says it answers.
type command struct {
	line   int // where it starts in README.md
	text   string
	expect *expectation
}

// expectation is a parsed `# → …` line.
type expectation struct {
	raw    string
	status int    // 0: any 2xx
	reason string // ErrorInfo reason, if given
	body   any    // JSON the answer must contain, if given
	exit   int    // for `# → exit N`
	isExit bool
}

var reasonPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)

func parseExpectation(s string) (*expectation, error) {
	e := &expectation{raw: s}
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "exit "); ok {
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("exit status %q: %w", rest, err)
		}
		e.exit, e.isExit = n, true
		return e, nil
	}
	for s != "" && !strings.HasPrefix(s, "{") {
		word, rest, _ := strings.Cut(s, " ")
		switch {
		case len(word) == 3 && word[0] >= '1' && word[0] <= '5':
			n, err := strconv.Atoi(word)
			if err != nil {
				return nil, fmt.Errorf("status %q: %w", word, err)
			}
			e.status = n
		case reasonPattern.MatchString(word):
			e.reason = word
		default:
			return nil, fmt.Errorf("cannot read %q (want a status, a REASON or a JSON object)", word)
		}
		s = strings.TrimSpace(rest)
	}
	if s != "" {
		if err := json.Unmarshal([]byte(s), &e.body); err != nil {
			return nil, fmt.Errorf("JSON %s: %w", s, err)
		}
	}
	return e, nil
}

// parseReadme returns the commands of every ```sh block that runs.
func parseReadme(t *testing.T, readme string) []command {
	t.Helper()
	var cmds []command
	lines := strings.Split(readme, "\n")
	inBlock, skip := false, false
	var cur []string
	curStart := 0
	prev := ""
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if !inBlock {
			if trimmed == "```sh" {
				inBlock, skip = true, prev == "<!-- readme-test: skip -->"
				cur = nil
			}
			if trimmed != "" {
				prev = trimmed
			}
			continue
		}
		if trimmed == "```" {
			if len(cur) > 0 && !skip {
				t.Fatalf("README.md:%d: the command starting here never ends: %s", curStart, strings.Join(cur, "\n"))
			}
			inBlock = false
			prev = ""
			continue
		}
		if skip {
			continue
		}
		if len(cur) == 0 {
			if rest, ok := strings.CutPrefix(trimmed, "# →"); ok {
				if len(cmds) == 0 {
					t.Fatalf("README.md:%d: an answer with no command above it", i+1)
				}
				e, err := parseExpectation(rest)
				if err != nil {
					t.Fatalf("README.md:%d: %v", i+1, err)
				}
				cmds[len(cmds)-1].expect = e
				continue
			}
			if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "make ") {
				continue
			}
			curStart = i + 1
		}
		cur = append(cur, line)
		text := strings.Join(cur, "\n")
		if strings.HasSuffix(trimmed, `\`) || !completeShell(text) {
			continue
		}
		cmds = append(cmds, command{line: curStart, text: text})
		cur = nil
	}
	return cmds
}

// completeShell tells whether bash would take text as whole commands (no open quote,
// loop or here-document: bash only warns about an unterminated here-document, so any
// output counts as incomplete).
func completeShell(text string) bool {
	out, err := exec.Command("bash", "-n", "-c", text).CombinedOutput()
	return err == nil && len(out) == 0
}

func TestReadmeRunsTopToBottom(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatalf("the README's examples use jq: %v (make run installs it; apt-get install -y jq)", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := parseReadme(t, string(readme))
	if len(cmds) < 20 {
		t.Fatalf("found only %d commands in README.md: is the parser broken?", len(cmds))
	}

	// Not t.TempDir(): when the test runs as root the local cluster runs as the
	// postgres user, which must be able to reach the data directory.
	work, err := os.MkdirTemp("", "loyalty-readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "bin")
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./cmd/loyaltyd", "./cmd/loyaltyctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	httpAddr, grpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	_, pgPort, _ := net.SplitHostPort(proctest.FreeAddr(t))
	env := append(cleanEnv(),
		"LOYALTY_HTTP_ADDR="+httpAddr, "LOYALTY_GRPC_ADDR="+grpcAddr, "LOYALTY_LOCAL_PG_PORT="+pgPort)
	server := startDemo(t, work, env)
	api := "http://" + httpAddr
	waitReady(t, api, server)

	calls := filepath.Join(work, "calls.log")
	sh := newShell(t, work, append(env, "README_CALLS="+calls))
	sh.run(t, `set -o pipefail
curl() {
  local body code rc
  body=$(mktemp)
  code=$(command curl -o "$body" -w '%{http_code}' "$@"); rc=$?
  printf '%s %s\n' "${code:-000}" "$(base64 -w0 < "$body")" >> "$README_CALLS"
  cat "$body"; rm -f "$body"
  return $rc
}`)

	seen := 0
	for _, c := range cmds {
		text := c.text
		if strings.HasPrefix(strings.TrimSpace(text), "API=") {
			text = "API=" + api // the README's address, pointed at this test's server
		}
		if strings.HasPrefix(strings.TrimSpace(text), "RECEIVER=") {
			text = "RECEIVER=" + proctest.FreeAddr(t) // a fixed port may be taken on this machine
		}
		out, exit := sh.run(t, text)
		answers := readCalls(t, calls, &seen)
		// Errorf, not Fatalf: one run lists every example that drifted (the first
		// one may explain those after it).
		if err := check(c, exit, answers); err != nil {
			t.Errorf("README.md:%d: %s\n%v\noutput:\n%s", c.line, c.text, err, truncate(out, 1500))
		}
	}

	// However the examples went, the books must balance at the end.
	out, _ := sh.run(t, `curl -s -H "Authorization: Bearer $KEY" "$API/v1/ledger:verify" | jq -r .ok`)
	if strings.TrimSpace(out) != "true" {
		t.Fatalf("verify after the README: %s", out)
	}
	t.Logf("ran %d README commands", len(cmds))
}

// answer is one HTTP call a command made.
type answer struct {
	status int
	body   []byte
}

func check(c command, exit int, answers []answer) error {
	e := c.expect
	if e != nil && e.isExit {
		if exit != e.exit {
			return fmt.Errorf("exit status %d, the README says %d", exit, e.exit)
		}
		return nil
	}
	for i, a := range answers {
		if i == len(answers)-1 && e != nil {
			break
		}
		if a.status < 200 || a.status > 299 {
			return fmt.Errorf("call %d of %d answered %d: %s", i+1, len(answers), a.status, truncate(string(a.body), 2000))
		}
	}
	if exit != 0 {
		return fmt.Errorf("exit status %d", exit)
	}
	if e == nil {
		return nil
	}
	if len(answers) == 0 {
		return fmt.Errorf("the README states an answer (%s) but the command made no HTTP call", e.raw)
	}
	last := answers[len(answers)-1]
	switch {
	case e.status != 0 && last.status != e.status:
		return fmt.Errorf("answered %d, the README says %d: %s", last.status, e.status, truncate(string(last.body), 2000))
	case e.status == 0 && (last.status < 200 || last.status > 299):
		return fmt.Errorf("answered %d, the README says 2xx: %s", last.status, truncate(string(last.body), 2000))
	}
	var got any
	if e.reason != "" || e.body != nil {
		if err := json.Unmarshal(last.body, &got); err != nil {
			return fmt.Errorf("the answer is not JSON: %v: %s", err, truncate(string(last.body), 2000))
		}
	}
	if e.reason != "" && !hasReason(got, e.reason) {
		return fmt.Errorf("no ErrorInfo reason %s in %s", e.reason, truncate(string(last.body), 2000))
	}
	if e.body != nil {
		if path, ok := contains(got, e.body, ""); !ok {
			return fmt.Errorf("the answer does not contain what the README says (at %s):\nREADME: %s\nanswer: %s",
				path, e.raw, truncate(string(last.body), 3000))
		}
	}
	return nil
}

func hasReason(v any, reason string) bool {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["reason"].(string); ok && r == reason {
			return true
		}
		for _, y := range x {
			if hasReason(y, reason) {
				return true
			}
		}
	case []any:
		for _, y := range x {
			if hasReason(y, reason) {
				return true
			}
		}
	}
	return false
}

// contains reports whether got contains want (see the package doc), and where not.
func contains(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k + " (missing)", false
			}
			if p, ok := contains(gv, wv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return path, false
		}
		for i, wv := range w {
			found := false
			for _, gv := range g {
				if _, ok := contains(gv, wv, ""); ok {
					found = true
					break
				}
			}
			if !found {
				return fmt.Sprintf("%s[%d]", path, i), false
			}
		}
		return "", true
	case float64:
		switch g := got.(type) {
		case float64:
			return path, g == w
		case string:
			f, err := strconv.ParseFloat(g, 64)
			return path, err == nil && f == w
		}
		return path, false
	default:
		return path, fmt.Sprint(got) == fmt.Sprint(want)
	}
}

func readCalls(t *testing.T, file string, seen *int) []answer {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}
	var out []answer
	for _, l := range lines[*seen:] {
		code, b64, _ := strings.Cut(l, " ")
		status, _ := strconv.Atoi(code)
		body, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("calls log: %v", err)
		}
		out = append(out, answer{status: status, body: body})
	}
	*seen = len(lines)
	return out
}

// shell is one bash process the README's commands run in, so variables carry over.
type shell struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

const doneMarker = "__README_COMMAND_DONE__"

func newShell(t *testing.T, dir string, env []string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir, cmd.Env = dir, env
	// Its own process group, so what the README starts in the background (bash
	// without job control keeps it in the shell's group) ends with the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = pw.Close()
	})
	return &shell{cmd: cmd, stdin: stdin, out: bufio.NewReader(pr)}
}

// run runs text and returns what it printed and its exit status.
func (s *shell) run(t *testing.T, text string) (string, int) {
	t.Helper()
	if _, err := fmt.Fprintf(s.stdin, "%s\nprintf '\\n%s %%d\\n' $?\n", text, doneMarker); err != nil {
		t.Fatalf("shell: %v", err)
	}
	type result struct {
		out  string
		exit int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var buf strings.Builder
		for {
			line, err := s.out.ReadString('\n')
			if err != nil {
				done <- result{buf.String(), -1, err}
				return
			}
			if rest, ok := strings.CutPrefix(line, doneMarker+" "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(rest))
				done <- result{buf.String(), n, nil}
				return
			}
			buf.WriteString(line)
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("shell ended running %q: %v\n%s", text, r.err, r.out)
		}
		return r.out, r.exit
	case <-time.After(2 * time.Minute):
		t.Fatalf("command still running after 2 minutes: %s", text)
		return "", -1
	}
}

// startDemo starts loyaltyd --demo in dir; the channel closes when it exits.
func startDemo(t *testing.T, dir string, env []string) <-chan struct{} {
	t.Helper()
	logs := &proctest.Output{}
	// As `make run` starts it: the README's webhook receiver is on loopback.
	cmd := exec.Command(filepath.Join(dir, "bin", "loyaltyd"), "--demo", "--webhook-allow", "127.0.0.0/8")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("loyaltyd output (the end):\n%s", tail(logs.String(), 6000))
		}
	})
	return exited
}

func waitReady(t *testing.T, api string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatal("loyaltyd --demo exited before it was ready")
		default:
		}
		resp, err := http.Get(api + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("loyaltyd --demo not ready within 3 minutes")
}

// cleanEnv is the environment without the LOYALTY_ settings of whoever runs the test
// (but where the PostgreSQL binaries are), so the README runs with the defaults a new
// user has.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LOYALTY_") && !strings.HasPrefix(kv, "LOYALTY_PG_BIN=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
