package main

import "testing"

func TestDefaultMaxDBConns(t *testing.T) {
	for _, tc := range []struct {
		procs, want int
	}{
		{procs: 1, want: 8},
		{procs: 2, want: 8},
		{procs: 3, want: 12},
		{procs: 4, want: 16},
		{procs: 8, want: 32},
		{procs: 64, want: 32},
	} {
		if got := defaultMaxDBConns(tc.procs); got != tc.want {
			t.Errorf("defaultMaxDBConns(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}
