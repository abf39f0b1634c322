package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's target (GOGC) when the environment
// sets none. A read allocates about 17 KB of garbage that dies with the call, while
// the live heap stays near 10 MB, so Go's default of 100 runs a
// collection several times a second under page-view load: at 10,000 reads/s the
// collector was a tenth of the server's CPU. At 400 the heap may grow to five times
// what is live (a few hundred megabytes at most, during an import) and a read costs
// about 9 % less CPU (docs/BENCHMARKS.md, "A fast day: reads, the garbage
// collector's target and bulk work").
const defaultGCPercent = 400

// setDefaultGCPercent applies defaultGCPercent unless GOGC is set: an operator's
// GOGC (or GOMEMLIMIT, which the runtime honours either way) wins. It answers the
// percent in effect.
func setDefaultGCPercent(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		// runtime/debug has no getter: SetGCPercent answers the previous value, so
		// the runtime's own reading of GOGC is taken and put straight back.
		current := debug.SetGCPercent(100)
		debug.SetGCPercent(current)
		return current
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}
