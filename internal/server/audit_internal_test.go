package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Every service of the API, registered with the protobuf registry.
	_ "github.com/loyalty-engine/loyalty/api/loyalty/v1"
	"github.com/loyalty-engine/loyalty/internal/problem"
)

// Every method of every loyalty.v1 service is classified by exactly one table: a
// write, recorded with a target taken from its request, or a read. A method added
// to the API fails here until someone decides which it is.
func TestEveryMethodIsAuditedOrARead(t *testing.T) {
	methods := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFilesByPackage("loyalty.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				methods["/"+string(sd.FullName())+"/"+string(md.Name())] = md
			}
		}
		return true
	})
	if len(methods) < 40 {
		t.Fatalf("found %d API methods; the registry lookup is broken", len(methods))
	}
	for name, md := range methods {
		target, write := auditedMethods[name]
		switch {
		case write && readMethods[name]:
			t.Errorf("%s is both audited and a read", name)
		case !write && !readMethods[name]:
			t.Errorf("%s is neither audited nor a read: add it to auditedMethods (with its target) or readMethods", name)
		case write:
			mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			req := mt.New()
			fillStrings(req)
			got := target(req.Interface(), nil)
			if got == "" || strings.HasSuffix(got, "/") || strings.Contains(got, "//") {
				t.Errorf("%s: target %q from a request whose ids are all %q", name, got, probe)
			}
		}
	}
	for name := range auditedMethods {
		if _, ok := methods[name]; !ok {
			t.Errorf("auditedMethods names %s, which the API does not have", name)
		}
	}
	for name := range readMethods {
		if _, ok := methods[name]; !ok {
			t.Errorf("readMethods names %s, which the API does not have", name)
		}
	}
}

const probe = "probe"

// fillStrings sets every top-level string field of m to probe.
func fillStrings(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); f.Kind() == protoreflect.StringKind && !f.IsList() && !f.IsMap() {
			m.Set(f, protoreflect.ValueOfString(probe))
		}
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		err             error
		outcome, reason string
	}{
		{nil, "OK", ""},
		{toStatus(t.Context(), nil, problemInsufficient), "FAILED_PRECONDITION", "INSUFFICIENT_POINTS"},
		{toStatus(t.Context(), nil, problemInvalid), "INVALID_ARGUMENT", "INVALID_ARGUMENT"},
	} {
		outcome, reason := outcomeOf(tc.err)
		if outcome != tc.outcome || reason != tc.reason {
			t.Errorf("outcomeOf(%v) = %s %s, want %s %s", tc.err, outcome, reason, tc.outcome, tc.reason)
		}
	}
}

var (
	problemInsufficient = problem.New(problem.Precondition, "INSUFFICIENT_POINTS", "not enough available points")
	problemInvalid      = problem.InvalidField("points", "must be positive")
)
