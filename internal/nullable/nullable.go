// Package nullable converts between Go zero values and the pointers sqlc uses for
// NULL columns: a zero value is stored as NULL, and NULL reads back as zero.
package nullable

// Value is *v, or the zero value for nil.
func Value[T any](v *T) T {
	var zero T
	if v == nil {
		return zero
	}
	return *v
}

// Of is a pointer to v, or nil when v is the zero value.
func Of[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}
