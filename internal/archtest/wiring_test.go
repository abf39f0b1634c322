package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// wiringRoot is the one package that links services after building them
// (docs/ARCHITECTURE.md, "Wiring").
const wiringRoot = "internal/app"

// postConstructionLinks are the methods that link a built service to another one.
// Shipped code calls them only in wiringRoot, so that building a service never
// changes another behind the caller's back; tests wire their own services.
var postConstructionLinks = []string{"SetPromotions"}

// goFiles is what `go list -json` says of a package's shipped files.
type goFiles struct {
	ImportPath string
	Dir        string
	GoFiles    []string
}

func TestPostConstructionLinksAreMadeOnlyByTheWiring(t *testing.T) {
	calls := map[string]int{} // by package, relative to the module
	for _, p := range listGoFiles(t) {
		rel, ok := relative(p.ImportPath)
		if !ok {
			continue
		}
		for _, name := range p.GoFiles {
			for _, pos := range linkCalls(t, filepath.Join(p.Dir, name)) {
				calls[rel]++
				if rel != wiringRoot {
					t.Errorf("%s: %s is called outside %s: services are linked after construction only by the wiring", pos, pos.method, wiringRoot)
				}
			}
		}
	}
	// The scan must see the one link the wiring does make, or it proves nothing.
	if calls[wiringRoot] != len(postConstructionLinks) {
		t.Errorf("%s makes %d post-construction links, want %d (one call to each of %v)", wiringRoot, calls[wiringRoot], len(postConstructionLinks), postConstructionLinks)
	}
}

type linkCall struct {
	token.Position
	method string
}

// linkCalls finds the selectors of post-construction links in one file (a method
// value counts as much as a call).
func linkCalls(t *testing.T, path string) []linkCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var found []linkCall
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if ok && slices.Contains(postConstructionLinks, sel.Sel.Name) {
			found = append(found, linkCall{fset.Position(sel.Sel.Pos()), sel.Sel.Name})
		}
		return true
	})
	return found
}

// listGoFiles lists the module's packages with their non-test files (GoFiles leaves
// out _test.go files and files excluded by build constraints).
func listGoFiles(t *testing.T) []goFiles {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Dir,GoFiles", "./...")
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []goFiles
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goFiles
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
