// Package pagetoken makes the opaque page tokens of keyset-paginated lists: the
// last id of a page, tagged with what it is an id of.
package pagetoken

import (
	"encoding/base64"
	"errors"
	"strconv"
)

// Encode is the token of the page after id.
func Encode(tag byte, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(tag) + strconv.FormatInt(id, 10)))
}

// Decode is the id a token of Encode(tag, id) holds.
func Decode(tag byte, tok string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 2 || b[0] != tag {
		return 0, errors.New("bad page token")
	}
	return strconv.ParseInt(string(b[1:]), 10, 64)
}
