// Package archtest holds no code, only a test: the import direction between this
// module's packages (docs/ARCHITECTURE.md), checked against `go list` on every run.
package archtest
