package main

import (
	"io"
	"testing"
	"time"
)

// The call timeout comes from --call-timeout or LOYALTY_CALL_TIMEOUT (the flag
// wins), defaults to 10 s, and refuses what is not a sensible deadline.
func TestCallTimeoutConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    time.Duration
		wantErr bool
	}{
		{name: "default", want: 10 * time.Second},
		{name: "environment", env: "3s", want: 3 * time.Second},
		{name: "flag over environment", args: []string{"--call-timeout=1500ms"}, env: "3s", want: 1500 * time.Millisecond},
		{name: "not a duration", env: "ten", wantErr: true},
		{name: "too short", args: []string{"--call-timeout=10ms"}, wantErr: true},
		{name: "too long", args: []string{"--call-timeout=1h"}, wantErr: true},
		{name: "negative", args: []string{"--call-timeout=-1s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(name string) string {
				if name == "LOYALTY_CALL_TIMEOUT" {
					return tt.env
				}
				return ""
			}
			cfg, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted, call timeout %s", cfg.CallTimeout)
				}
				return
			}
			if err != nil || cfg.CallTimeout != tt.want {
				t.Fatalf("call timeout %s (%v), want %s", cfg.CallTimeout, err, tt.want)
			}
		})
	}
}
