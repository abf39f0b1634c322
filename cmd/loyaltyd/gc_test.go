package main

import (
	"runtime/debug"
	"testing"
)

func TestSetDefaultGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name    string
		gogc    string
		before  int
		want    int
		wantNow int
	}{
		{name: "GOGC unset: the server's default", gogc: "", before: 100, want: defaultGCPercent, wantNow: defaultGCPercent},
		{name: "GOGC set: what the runtime took from it stays", gogc: "50", before: 50, want: 50, wantNow: 50},
		{name: "GOGC=off stays off", gogc: "off", before: -1, want: -1, wantNow: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The runtime reads GOGC at start; SetGCPercent stands in for what it took.
			debug.SetGCPercent(tc.before)
			got := setDefaultGCPercent(func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			})
			if got != tc.want {
				t.Errorf("answered %d, want %d", got, tc.want)
			}
			if now := debug.SetGCPercent(100); now != tc.wantNow {
				t.Errorf("GC percent in effect %d, want %d", now, tc.wantNow)
			}
		})
	}
}
