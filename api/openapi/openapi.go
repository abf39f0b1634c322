// Package openapi serves the OpenAPI (Swagger 2.0) document generated from the
// protobuf sources by protoc-gen-openapiv2.
package openapi

import (
	_ "embed"
	"encoding/json"
)

//go:embed loyalty.swagger.json
var generated []byte

// Document returns the generated document with the information the generator cannot
// know from the protobuf sources: the title and the bearer-key security scheme.
func Document() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(generated, &doc); err != nil {
		return nil, err
	}
	doc["info"] = map[string]any{
		"title":       "Loyalty points and membership engine",
		"version":     "v1",
		"description": "Every call needs `Authorization: Bearer <api key>`. Mutating calls take a requestId (or an Idempotency-Key header).",
	}
	doc["securityDefinitions"] = map[string]any{
		"bearer": map[string]any{"type": "apiKey", "name": "Authorization", "in": "header",
			"description": "Bearer <api key>"},
	}
	doc["security"] = []any{map[string]any{"bearer": []any{}}}
	return json.MarshalIndent(doc, "", "  ")
}
