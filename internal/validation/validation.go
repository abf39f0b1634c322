// Package validation validates domain commands with go-playground/validator and turns
// violations into problem errors that name each field by its JSON (API) name.
package validation

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

var (
	// Identifiers from the shop (member and order ids): printable, URL-safe. No ':',
	// which the REST paths use for custom verbs (/v1/members/{id}:earn).
	shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// Caller-chosen idempotency keys: a little wider, still printable.
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,128}$`)

	validate = newValidator()
)

// descriptions explains custom tags in the error answer.
var descriptions = map[string]string{
	"shopid":    shopIDDescription,
	"requestid": "must be 1-128 characters of A-Z a-z 0-9 . _ : / + = -",
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report fields by the name callers use: the json tag (lowerCamelCase).
	v.RegisterTagNameFunc(jsonName)
	mustRegister(v, "shopid", func(fl validator.FieldLevel) bool { return ShopID(fl.Field().String()) })
	mustRegister(v, "requestid", func(fl validator.FieldLevel) bool { return requestIDPattern.MatchString(fl.Field().String()) })
	return v
}

func mustRegister(v *validator.Validate, tag string, fn validator.Func) {
	if err := v.RegisterValidation(tag, fn); err != nil {
		panic(fmt.Sprintf("register validation %s: %v", tag, err))
	}
}

const shopIDDescription = "must be 1-64 characters of A-Z a-z 0-9 . _ - and not only dots"

// ShopID is the rule for identifiers the shop chooses (member and order ids):
// 1-64 characters of A-Z a-z 0-9 . _ -, and not only dots, because "." and ".."
// are path segments with a meaning of their own in a URL. The members table's
// CHECK constraint repeats it (migration 00011); a test keeps the two in step.
func ShopID(s string) bool {
	return shopIDPattern.MatchString(s) && strings.Trim(s, ".") != ""
}

// TextDescription explains a refusal by Text.
const TextDescription = "must be valid UTF-8 text without NUL or other control characters (tab and line breaks are allowed)"

// Text is the rule for every string the API accepts: valid UTF-8, and no control
// characters of the C0 set (NUL first of all, which PostgreSQL cannot store) other
// than tab, line feed and carriage return, which free text such as a note or a
// campaign rule may contain. Identifiers have stricter patterns of their own.
func Text(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		// Every byte of a multi-byte UTF-8 sequence is >= 0x80, so a byte scan
		// finds exactly the C0 controls.
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// Struct validates a command and returns a problem.Invalid error naming every
// offending field, or nil. Besides the command's own tags, every string in it
// (nested structs, slices and maps included) must pass Text.
func Struct(cmd any) error {
	var fields []problem.FieldViolation
	err := validate.Struct(cmd)
	if err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return fmt.Errorf("validate %T: %w", cmd, err)
		}
		for _, fe := range verrs {
			fields = append(fields, problem.FieldViolation{Field: fieldPath(fe), Description: describe(fe)})
		}
	}
	named := make(map[string]bool, len(fields))
	for _, f := range fields {
		named[f.Field] = true
	}
	walkStrings(reflect.ValueOf(cmd), "", func(path, s string) {
		if !Text(s) && !named[path] {
			named[path] = true
			fields = append(fields, problem.FieldViolation{Field: path, Description: TextDescription})
		}
	})
	if len(fields) == 0 {
		return nil
	}
	return problem.InvalidFields(fields...)
}

// walkStrings calls visit with every string reachable from v and its path in the
// names callers use (json tags): "items[2].name", "labels[gold]".
func walkStrings(v reflect.Value, path string, visit func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		visit(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, visit)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := jsonName(f)
			if f.Anonymous && f.Tag.Get("json") == "" {
				walkStrings(v.Field(i), path, visit)
				continue
			}
			walkStrings(v.Field(i), join(path, name), visit)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, not text
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), visit)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			key := fmt.Sprint(iter.Key().Interface())
			if iter.Key().Kind() == reflect.String && !Text(key) {
				visit(path, key)
			}
			walkStrings(iter.Value(), path+"["+key+"]", visit)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || name == "" {
		return f.Name
	}
	return name
}

// fieldPath drops the top-level struct name: "EnrollMember.memberId" -> "memberId".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return fe.Field()
}

func describe(fe validator.FieldError) string {
	if d, ok := descriptions[fe.Tag()]; ok {
		return d
	}
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min":
		if fe.Kind() == reflect.String {
			return "must be at least " + fe.Param() + " characters"
		}
		return "must be at least " + fe.Param()
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		return "must be at most " + fe.Param()
	case "gt":
		return "must be greater than " + fe.Param()
	case "gte":
		return "must be at least " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	default:
		return "fails the " + fe.Tag() + " rule"
	}
}
