// Package validation validates domain commands with go-playground/validator and turns
// violations into problem errors that name each field by its JSON (API) name.
package validation

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/loyalty-engine/loyalty/internal/problem"
)

var (
	// Identifiers from the shop (member and order ids): printable, URL-safe.
	shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	// Caller-chosen idempotency keys: a little wider, still printable.
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,128}$`)

	validate = newValidator()
)

// descriptions explains custom tags in the error answer.
var descriptions = map[string]string{
	"shopid":    "must be 1-64 characters of A-Z a-z 0-9 . _ : -",
	"requestid": "must be 1-128 characters of A-Z a-z 0-9 . _ : / + = -",
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report fields by the name callers use: the json tag (lowerCamelCase).
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || name == "" {
			return f.Name
		}
		return name
	})
	mustRegister(v, "shopid", func(fl validator.FieldLevel) bool { return shopIDPattern.MatchString(fl.Field().String()) })
	mustRegister(v, "requestid", func(fl validator.FieldLevel) bool { return requestIDPattern.MatchString(fl.Field().String()) })
	return v
}

func mustRegister(v *validator.Validate, tag string, fn validator.Func) {
	if err := v.RegisterValidation(tag, fn); err != nil {
		panic(fmt.Sprintf("register validation %s: %v", tag, err))
	}
}

// Struct validates a command and returns a problem.Invalid error naming every
// offending field, or nil.
func Struct(cmd any) error {
	err := validate.Struct(cmd)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate %T: %w", cmd, err)
	}
	fields := make([]problem.FieldViolation, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, problem.FieldViolation{Field: fieldPath(fe), Description: describe(fe)})
	}
	return problem.InvalidFields(fields...)
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
