// Package migrations holds the schema as goose migrations, embedded in the binaries so
// that loyaltyd migrates its database at start. sqlc reads the same files as its schema.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
