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
