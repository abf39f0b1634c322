package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/loyalty-engine/loyalty"

// The layers, top to bottom: programs, wiring, domains, helpers; api/ and the
// generated database packages beside them. docs/ARCHITECTURE.md draws them.
var (
	// domainMayImport lists, for each domain package, the domains below it that it
	// may call. A domain absent from a list is out of reach: tiers knows no ledger,
	// the ledger no campaigns, and access and events nobody.
	domainMayImport = map[string][]string{
		"access": nil,
		// events is the outbox every domain writes its changes' events to, in the
		// changes' transactions: below them all, it knows none of them.
		"events":    nil,
		"tiers":     {"events"},
		"ledger":    {"tiers", "events"},
		"campaigns": {"ledger", "tiers", "events"},
		// The member import file's format (CSV rows to ledger.Opening, the row
		// report): above the ledger it feeds, below the transport.
		"ledger/importfile": {"ledger"},
		// bulk credits post through the ledger, list tiers' members and judge
		// campaigns' CEL rules, and fund credits from campaigns' budgets.
		"bulk": {"campaigns", "ledger", "tiers", "events"},
	}
	// wiring packages put domains, transport and jobs together; only programs and
	// wiring import them.
	wiring = []string{
		"internal/app", "internal/server", "internal/jobs",
		"internal/apitest", "internal/chaostest", "internal/readmetest",
	}
	// testHarnesses run the whole server for tests: no program or server code links them.
	testHarnesses = []string{"internal/apitest", "internal/chaostest", "internal/readmetest"}
	// transportOnly are the external packages of the transport: a domain depends on
	// none of them, not even through another package.
	transportOnly = []string{
		"google.golang.org/grpc", "github.com/grpc-ecosystem/",
	}
	// generatedDB matches sqlc's packages and captures the one package that owns each.
	generatedDB = regexp.MustCompile(`^(.+)/internal/[a-z]+db$`)
)

type layer string

const (
	layerProgram   layer = "program"
	layerWiring    layer = "wiring"
	layerDomain    layer = "domain"
	layerHelper    layer = "helper"
	layerAPI       layer = "api"
	layerGenerated layer = "generated database"
)

// pkg is what `go list -json` says of a package. Imports are those of its non-test
// files: tests may cross layers to set things up (tiers' tests earn points through the
// ledger), shipped code may not.
type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportDirection(t *testing.T) {
	all := listPackages(t)
	for _, path := range slices.Sorted(maps.Keys(all)) {
		p := all[path]
		rel, ok := relative(path)
		if !ok {
			continue
		}
		l, ok := classify(rel)
		if !ok {
			t.Errorf("%s belongs to no layer: add it to one in internal/archtest/imports_test.go and docs/ARCHITECTURE.md", rel)
			continue
		}
		for _, msg := range violations(rel, l, p, all) {
			t.Error(msg)
		}
	}
}

// violations lists every rule package rel of layer l breaks.
func violations(rel string, l layer, p pkg, all map[string]pkg) []string {
	var msgs []string
	for _, imp := range p.Imports {
		if msg := checkImport(rel, l, imp); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	if l == layerDomain {
		if msg := transportDependency(p, all); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	return msgs
}

// checkImport judges one direct import of package rel (layer l); it returns why the
// import is forbidden, or "".
func checkImport(rel string, l layer, imp string) string {
	target, inModule := relative(imp)
	if !inModule {
		if l == layerDomain && (imp == "net/http" || strings.HasPrefix(imp, "net/http/")) {
			return rel + " imports " + imp + ": domain packages know no HTTP; internal/server maps them onto it"
		}
		return ""
	}
	if m := generatedDB.FindStringSubmatch(target); m != nil && m[1] != rel {
		return rel + " imports " + target + ": generated database code is only for its own package, " + m[1]
	}
	tl, _ := classify(target)
	if slices.Contains(testHarnesses, target) && l != layerWiring {
		return rel + " imports " + target + ": test harnesses are for tests only"
	}
	switch l {
	case layerDomain:
		return checkDomainImport(rel, target, tl)
	case layerHelper:
		if tl != layerHelper && tl != layerGenerated {
			return rel + " imports " + target + " (" + string(tl) + "): helpers under internal/ stay below the domains and never import " + string(tl) + " packages"
		}
	case layerAPI, layerGenerated:
		if tl != l {
			return rel + " imports " + target + ": the " + string(l) + " layer depends on nothing else of this module"
		}
	case layerWiring:
		return checkWiringImport(rel, target)
	}
	return ""
}

func checkDomainImport(rel, target string, tl layer) string {
	switch tl {
	case layerHelper, layerGenerated:
		return ""
	case layerDomain:
		if slices.Contains(domainMayImport[rel], target) {
			return ""
		}
		may := strings.Join(domainMayImport[rel], ", ")
		if may == "" {
			may = "none"
		}
		return rel + " imports " + target + ": a domain calls only the domains below it (" + rel + ": " + may + ")"
	}
	return rel + " imports " + target + " (" + string(tl) + "): domain packages import only domains below them, their own generated code and helpers"
}

// checkWiringImport keeps the order among the wiring packages: the transport is wired
// by internal/app, never the reverse, and jobs know no transport.
func checkWiringImport(rel, target string) string {
	forbidden := map[string][]string{
		"internal/server": {"internal/app", "internal/jobs"},
		"internal/jobs":   {"internal/server", "internal/app"},
	}
	if slices.Contains(forbidden[rel], target) {
		return rel + " imports " + target + ": " + rel + " is wired by internal/app or cmd/loyaltyd, it does not wire " + target
	}
	return ""
}

// transportDependency finds gRPC or the gateway among a domain package's
// dependencies, direct or not, and names the shortest import chain that brings it in.
func transportDependency(p pkg, all map[string]pkg) string {
	chain := shortestChain(p.ImportPath, isTransport, all)
	if chain == nil {
		return ""
	}
	for i, path := range chain {
		if rel, ok := relative(path); ok {
			chain[i] = rel
		}
	}
	return chain[0] + " depends on " + chain[len(chain)-1] + " (" + strings.Join(chain, " -> ") +
		"): domain packages know no gRPC; internal/server maps them onto it"
}

func isTransport(importPath string) bool {
	for _, prefix := range transportOnly {
		if strings.HasPrefix(importPath, prefix) {
			return true
		}
	}
	return false
}

// shortestChain returns the shortest import chain from start to a package matching
// want (breadth first), or nil when there is none.
func shortestChain(start string, want func(string) bool, all map[string]pkg) []string {
	cameFrom := map[string]string{start: ""}
	queue := []string{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range all[cur].Imports {
			if _, seen := cameFrom[imp]; seen {
				continue
			}
			cameFrom[imp] = cur
			if want(imp) {
				return chainTo(imp, cameFrom)
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func chainTo(end string, cameFrom map[string]string) []string {
	var chain []string
	for cur := end; cur != ""; cur = cameFrom[cur] {
		chain = append(chain, cur)
	}
	slices.Reverse(chain)
	return chain
}

// classify places a package of this module (path relative to the module) in a layer.
func classify(rel string) (layer, bool) {
	switch {
	case generatedDB.MatchString(rel):
		return layerGenerated, true
	case hasKey(domainMayImport, rel):
		return layerDomain, true
	case slices.Contains(wiring, rel):
		return layerWiring, true
	case strings.HasPrefix(rel, "api/"), rel == "console":
		return layerAPI, true
	case strings.HasPrefix(rel, "cmd/"), strings.HasPrefix(rel, "bench/"), strings.HasPrefix(rel, "scripts/"):
		return layerProgram, true
	case strings.HasPrefix(rel, "internal/"), rel == "sql/migrations":
		return layerHelper, true
	}
	return "", false
}

func hasKey(m map[string][]string, k string) bool {
	_, ok := m[k]
	return ok
}

// relative strips the module path; ok is false for packages of other modules.
func relative(importPath string) (string, bool) {
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return rel, ok
}

// listPackages runs `go list -deps` over the module: its packages and everything they
// depend on, by import path.
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	all := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		all[p.ImportPath] = p
	}
	if _, ok := all[module+"/ledger"]; !ok {
		t.Fatalf("go list in %s did not list %s/ledger: wrong directory?", root, module)
	}
	return all
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
