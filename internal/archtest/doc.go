// Package archtest holds no code, only tests: the import direction between this
// module's packages, checked against `go list` on every run, and the wiring rule
// that only internal/app links services after building them (docs/ARCHITECTURE.md).
package archtest
