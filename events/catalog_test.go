package events_test

import (
	"os"
	"strings"
	"testing"

	"github.com/loyalty-engine/loyalty/events"
)

// Every type of the catalogue is documented in docs/EVENTS.md, with a heading of
// its own, and the document names no type the catalogue lacks.
func TestEveryTypeIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/EVENTS.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if name, ok := strings.CutPrefix(line, "#### `"); ok {
			documented[strings.TrimSuffix(name, "`")] = true
		}
	}
	for _, typ := range events.Types() {
		if !documented[string(typ)] {
			t.Errorf("docs/EVENTS.md has no heading #### `%s`", typ)
		}
		delete(documented, string(typ))
	}
	for name := range documented {
		t.Errorf("docs/EVENTS.md documents %s, which is not in the catalogue", name)
	}
}

// The console's events view filters by the catalogue: its list (console/src/logic.ts)
// is the catalogue, in its order.
func TestTheConsoleListsTheCatalogue(t *testing.T) {
	src, err := os.ReadFile("../console/src/logic.ts")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(src), "export const eventTypes = [")
	list, _, ok2 := strings.Cut(list, "] as const;")
	if !ok || !ok2 {
		t.Fatal("console/src/logic.ts has no eventTypes list")
	}
	var listed []string
	for _, item := range strings.Split(list, ",") {
		if item = strings.Trim(strings.TrimSpace(item), `"`); item != "" {
			listed = append(listed, item)
		}
	}
	var want []string
	for _, typ := range events.Types() {
		want = append(want, string(typ))
	}
	if strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Fatalf("console/src/logic.ts lists\n%v\nthe catalogue is\n%v", listed, want)
	}
}
