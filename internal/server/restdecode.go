package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/loyalty-engine/loyalty/internal/validation"
)

// restMarshaler is the gateway's JSON: protojson out (every field, camelCase), and
// a strict decoder in.
type restMarshaler struct {
	*runtime.JSONPb
}

func newRESTMarshaler() restMarshaler {
	return restMarshaler{&runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
		// Unknown fields are refused: a misspelt field is an error, not a no-op.
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

// NewDecoder reads the whole body (the front door bounds it), which must be exactly
// one JSON object of the request's fields: data after it is refused, unlike the
// streaming decoder of runtime.JSONPb, which reads the first value and ignores the
// rest.
func (m restMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return &strictDecoder{r: r, opts: m.UnmarshalOptions}
}

type strictDecoder struct {
	r    io.Reader
	opts protojson.UnmarshalOptions
}

// Decode fills v. The generated handlers turn a decoding error into a bare
// INVALID_ARGUMENT with the error's text; so a failure is also recorded on the
// request (see restBody), where the error handler finds it with its reason and
// field.
func (d *strictDecoder) Decode(v any) error {
	body, err := io.ReadAll(d.r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return d.fail(bodyTooLarge(tooBig.Limit))
		}
		return d.fail(errMalformedBody.With("the request body could not be read"))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return io.EOF // no body: the generated handlers go on with an empty request
	}
	msg, ok := protoTarget(v)
	if !ok {
		return json.Unmarshal(body, v)
	}
	if err := d.opts.Unmarshal(body, msg); err != nil {
		return d.fail(explainBody(body, msg.ProtoReflect().Descriptor(), err))
	}
	return nil
}

func (d *strictDecoder) fail(err error) error {
	if b, ok := d.r.(*restBody); ok {
		b.call.decodeErr = err
	}
	return err
}

// protoTarget is the message to fill: v itself, or for a body mapped to one field
// (Decode(&req.Program)) a new message in that field.
func protoTarget(v any) (proto.Message, bool) {
	if m, ok := v.(proto.Message); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Pointer {
		return nil, false
	}
	if rv.Elem().IsNil() {
		rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
	}
	m, ok := rv.Elem().Interface().(proto.Message)
	return m, ok
}

// explainBody finds what protojson refused, with the field's API name: it walks the
// body token by token along the message's fields. It runs only on a refused body.
func explainBody(body []byte, md protoreflect.MessageDescriptor, protoErr error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := &bodyWalker{dec: dec, body: body}
	if err := w.object(md, ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errMalformedBody.With("the request body must be one JSON object, but more follows it at byte %d", dec.InputOffset())
	}
	// Valid by every rule checked here, yet refused: say what protojson said,
	// without its "proto: (line 1:2):" prefix.
	msg := protoErr.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		msg = msg[i+3:]
	}
	return errMalformedBody.With("the request body does not fit the request: %s", strings.TrimPrefix(msg, "proto: "))
}

type bodyWalker struct {
	dec  *json.Decoder
	body []byte
}

// token reads the next token; a syntax error is the caller's MALFORMED_BODY.
func (w *bodyWalker) token() (json.Token, error) {
	tok, err := w.dec.Token()
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, errMalformedBody.With("the request body is not valid JSON (at byte %d)", syntax.Offset)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errMalformedBody.With("the request body ends before its JSON is complete")
		}
		return nil, errMalformedBody.With("the request body is not valid JSON")
	}
	return tok, nil
}

func (w *bodyWalker) object(md protoreflect.MessageDescriptor, path string) error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if path == "" {
			return errMalformedBody.With("the request body must be a JSON object")
		}
		return invalidValue(path, "must be a JSON object")
	}
	seen := map[protoreflect.FieldNumber]bool{}
	for w.dec.More() {
		tok, err := w.token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		fd := fieldByName(md, name)
		if fd == nil {
			return errUnknownField.WithField(join(path, name), "is not a field of this request")
		}
		field := join(path, fd.JSONName())
		if seen[fd.Number()] {
			return invalidValue(field, "is given more than once")
		}
		seen[fd.Number()] = true
		if err := w.field(fd, field); err != nil {
			return err
		}
	}
	_, err = w.token() // '}'
	return err
}

func (w *bodyWalker) field(fd protoreflect.FieldDescriptor, path string) error {
	switch {
	case fd.IsList():
		return w.container('[', path, "must be a JSON array", func(i int, _ string) error {
			return w.value(fd, fmt.Sprintf("%s[%d]", path, i))
		})
	case fd.IsMap():
		return w.container('{', path, "must be a JSON object", func(_ int, key string) error {
			return w.value(fd.MapValue(), path+"["+key+"]")
		})
	}
	return w.value(fd, path)
}

// container reads an array or object, calling each for every element.
func (w *bodyWalker) container(open json.Delim, path, want string, each func(i int, key string) error) error {
	tok, err := w.token()
	if err != nil || tok == nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != open {
		return invalidValue(path, want)
	}
	for i := 0; w.dec.More(); i++ {
		key := ""
		if open == '{' {
			tok, err := w.token()
			if err != nil {
				return err
			}
			key, _ = tok.(string)
		}
		if err := each(i, key); err != nil {
			return err
		}
	}
	_, err = w.token()
	return err
}

// value checks one value against its field's kind.
func (w *bodyWalker) value(fd protoreflect.FieldDescriptor, path string) error {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		switch wellKnown(fd.Message()) {
		case "":
			return w.object(fd.Message(), path)
		case "any":
			return w.skip()
		}
	}
	start := w.dec.InputOffset()
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil // null: the field is not set
	}
	if d, ok := tok.(json.Delim); ok {
		if err := w.skipRest(d); err != nil {
			return err
		}
		return invalidValue(path, expectation(fd))
	}
	if s, ok := tok.(string); ok && !validJSONText(s, w.body[start:w.dec.InputOffset()]) {
		return invalidValue(path, validation.TextDescription)
	}
	if !fits(fd, tok) {
		return invalidValue(path, expectation(fd))
	}
	return nil
}

// validJSONText tells whether a JSON string was valid text as sent: encoding/json
// has replaced invalid UTF-8 and lone surrogate escapes (\ud800) with U+FFFD,
// which protojson refuses, so the raw bytes tell.
func validJSONText(decoded string, raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	if !strings.ContainsRune(decoded, utf8.RuneError) {
		return true
	}
	return bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`)) || bytes.ContainsRune(raw, utf8.RuneError)
}

// skip reads one value of any shape (google.protobuf.Struct and Value take any JSON).
func (w *bodyWalker) skip() error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok {
		return w.skipRest(d)
	}
	return nil
}

func (w *bodyWalker) skipRest(open json.Delim) error {
	for depth := 1; depth > 0; {
		tok, err := w.token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// wellKnown classifies the well-known message types whose JSON is not an object:
// "timestamp", "duration", "wrapper", "fieldmask", "any" (any JSON); "" for
// ordinary messages.
func wellKnown(md protoreflect.MessageDescriptor) string {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return "timestamp"
	case "google.protobuf.Duration":
		return "duration"
	case "google.protobuf.FieldMask":
		return "fieldmask"
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any", "google.protobuf.Empty":
		return "any"
	}
	if md.ParentFile() != nil && md.ParentFile().Path() == "google/protobuf/wrappers.proto" {
		return "wrapper"
	}
	return ""
}

// fits tells whether a JSON scalar is acceptable for the field, as protojson
// would read it.
func fits(fd protoreflect.FieldDescriptor, tok json.Token) bool {
	kind := fd.Kind()
	if kind == protoreflect.MessageKind || kind == protoreflect.GroupKind {
		switch wellKnown(fd.Message()) {
		case "timestamp":
			s, ok := tok.(string)
			return ok && parsesAsTimestamp(s)
		case "duration":
			s, ok := tok.(string)
			return ok && parsesAsDuration(s)
		case "fieldmask":
			_, ok := tok.(string)
			return ok
		case "wrapper":
			return fits(fd.Message().Fields().ByName("value"), tok)
		}
		return false
	}
	text := ""
	switch v := tok.(type) {
	case string:
		text = v
	case json.Number:
		text = v.String()
	case bool:
		return kind == protoreflect.BoolKind
	}
	_, isString := tok.(string)
	switch kind {
	case protoreflect.StringKind:
		return isString
	case protoreflect.BytesKind:
		if !isString {
			return false
		}
		_, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			_, err = base64.URLEncoding.DecodeString(text)
		}
		return err == nil
	case protoreflect.BoolKind:
		return false
	case protoreflect.EnumKind:
		if isString {
			return fd.Enum().Values().ByName(protoreflect.Name(text)) != nil
		}
		n, err := strconv.ParseInt(text, 10, 32)
		return err == nil && fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)) != nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch text {
		case "NaN", "Infinity", "-Infinity":
			return isString
		}
		_, err := strconv.ParseFloat(text, 64)
		return err == nil
	}
	lo, hi := intRange(kind)
	return parsesAsInt(text, lo, hi)
}

// parsesAsInt accepts what protojson accepts for an integer field: a whole
// number, also written with an exponent (1e3), within the field's range.
func parsesAsInt(text string, lo, hi float64) bool {
	if text == "" {
		return false
	}
	if !strings.ContainsAny(text, ".eE") {
		// Exact, where float64 would round 2^63 into range.
		if lo < 0 {
			n, err := strconv.ParseInt(text, 10, 64)
			return err == nil && float64(n) >= lo && float64(n) <= hi
		}
		n, err := strconv.ParseUint(text, 10, 64)
		return err == nil && float64(n) <= hi
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || f != math.Trunc(f) || f < lo || f > hi {
		return false
	}
	return true
}

func intRange(kind protoreflect.Kind) (lo, hi float64) {
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return math.MinInt32, math.MaxInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return 0, math.MaxUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return 0, math.MaxUint64
	}
	return math.MinInt64, math.MaxInt64
}

func parsesAsTimestamp(s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && t.Year() >= 1 && t.Year() <= 9999
}

func parsesAsDuration(s string) bool {
	n, ok := strings.CutSuffix(s, "s")
	if !ok {
		return false
	}
	_, err := strconv.ParseFloat(n, 64)
	return err == nil
}

// expectation says what a field takes, in words: the one place where the REST
// side explains a value it cannot read (body, query and path alike).
func expectation(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch wellKnown(fd.Message()) {
		case "timestamp":
			return "must be an RFC 3339 time such as 2026-11-11T00:00:00Z"
		case "duration":
			return "must be a duration in seconds such as 900s"
		case "fieldmask":
			return "must be a comma-separated list of field names"
		case "wrapper":
			return expectation(fd.Message().Fields().ByName("value"))
		}
		return "must be a JSON object"
	case protoreflect.StringKind:
		return "must be a string"
	case protoreflect.BytesKind:
		return "must be base64-encoded bytes"
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.EnumKind:
		var names []string
		values := fd.Enum().Values()
		for i := 0; i < values.Len(); i++ {
			if v := values.Get(i); v.Number() != 0 {
				names = append(names, string(v.Name()))
			}
		}
		return "must be one of: " + strings.Join(names, ", ")
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "must be a number"
	}
	lo, hi := intRange(fd.Kind())
	if fd.Kind() == protoreflect.Int64Kind || fd.Kind() == protoreflect.Sint64Kind || fd.Kind() == protoreflect.Sfixed64Kind {
		return "must be a whole number"
	}
	return fmt.Sprintf("must be a whole number from %.0f to %.0f", lo, hi)
}

func invalidValue(field, description string) error {
	return errInvalidFieldValue.WithField(field, description)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
