package server

import (
	"context"
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	encodingproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// refuseBadText refuses a request with a string that breaks validation.Text (NUL,
// control characters, invalid UTF-8) in any field, nested messages, lists and maps
// included, naming each field by its JSON name. It sits at the transport's edge, so
// that no RPC, present or future, hands PostgreSQL a NUL byte it would answer with
// an error (a 500); the domain's validation.Struct checks its commands by the same
// rule.
func refuseBadText(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		var fields []problem.FieldViolation
		badText(m.ProtoReflect(), "", &fields)
		if len(fields) > 0 {
			return nil, problem.InvalidFields(fields...)
		}
	}
	return handler(ctx, req)
}

func badText(m protoreflect.Message, path string, out *[]problem.FieldViolation) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := join(path, fd.JSONName())
		switch {
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				badTextValue(fd, list.Get(i), fmt.Sprintf("%s[%d]", name, i), out)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind && !validation.Text(k.String()) {
					*out = append(*out, problem.FieldViolation{Field: name, Description: validation.TextDescription})
					return true
				}
				badTextValue(fd.MapValue(), mv, name+"["+k.String()+"]", out)
				return true
			})
		default:
			badTextValue(fd, v, name, out)
		}
		return true
	})
}

func badTextValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string, out *[]problem.FieldViolation) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !validation.Text(v.String()) {
			*out = append(*out, problem.FieldViolation{Field: name, Description: validation.TextDescription})
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		badText(v.Message(), name, out)
	}
}

// requestCodec is the server's proto codec, with one change: a request with
// invalid UTF-8 in a string field is decoded all the same, with each invalid byte
// replaced by NUL, so that refuseBadText answers INVALID_ARGUMENT naming the field.
// grpc-go answers any unmarshal error with INTERNAL, before an interceptor runs.
type requestCodec struct {
	encoding.CodecV2
}

func newRequestCodec() requestCodec {
	return requestCodec{encoding.GetCodecV2(encodingproto.Name)}
}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	buf := data.Materialize() // a copy: blanking it leaves the received buffers alone
	if !blankInvalidUTF8(buf, m.ProtoReflect().Descriptor()) {
		return err
	}
	proto.Reset(m)
	return proto.Unmarshal(buf, m)
}

// blankInvalidUTF8 overwrites, in place, every byte of an invalid UTF-8 sequence in
// the message's string fields (nested ones too) with NUL, which keeps every length
// in the encoding right. It tells whether it changed anything.
func blankInvalidUTF8(b []byte, md protoreflect.MessageDescriptor) bool {
	changed := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return changed
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return changed
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return changed
		}
		if fd := md.Fields().ByNumber(num); fd != nil {
			switch fd.Kind() {
			case protoreflect.StringKind:
				if !utf8.Valid(v) {
					blank(v)
					changed = true
				}
			case protoreflect.MessageKind:
				if blankInvalidUTF8(v, fd.Message()) {
					changed = true
				}
			}
		}
		b = b[n:]
	}
	return changed
}

func blank(v []byte) {
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			v[i] = 0
		}
		i += size
	}
}
