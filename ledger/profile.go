package ledger

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/loyalty-engine/loyalty/internal/problem"
	"github.com/loyalty-engine/loyalty/internal/validation"
)

// Profile is what the shop tells about a member beyond its id: an optional birthday,
// the channel it came from, and a few string attributes. Campaign rules read them
// (member.birthday, member.channel, member.attributes), the birthday job grants the
// tier's birthday bonus on the birthday.
type Profile struct {
	Birthday   *Birthday         `json:"birthday"`
	Channel    string            `json:"channel"`
	Attributes map[string]string `json:"attributes"`
}

// Birthday is a member's birthday: month and day, the year when known (0: not told).
type Birthday struct {
	Month int32 `json:"month"`
	Day   int32 `json:"day"`
	Year  int32 `json:"year"`
}

// Profile bounds: a profile is a few facts for rules, not a document store.
const (
	MaxAttributes      = 20
	MaxAttributeValue  = 200
	maxChannelLength   = 32
	attributeKeyFormat = "1-32 characters of a-z A-Z 0-9 _, starting with a letter"
)

var (
	attributeKeyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)
	channelPattern      = regexp.MustCompile(`^[A-Za-z0-9._-]{0,32}$`)
)

// ValidDate is the rule of a birthday: a month 1-12 and a day that month has (29
// February only in a leap year when the year is told), a year from 1900 to the
// current year when told.
func (b Birthday) ValidDate(now time.Time) []problem.FieldViolation {
	var v []problem.FieldViolation
	if b.Month < 1 || b.Month > 12 {
		return append(v, problem.FieldViolation{Field: "birthday.month", Description: "must be 1-12"})
	}
	year := b.Year
	if year == 0 {
		year = 2000 // a leap year: 29 February is a birthday
	} else if b.Year < 1900 || int(b.Year) > now.Year() {
		v = append(v, problem.FieldViolation{Field: "birthday.year", Description: fmt.Sprintf("must be 1900-%d, or 0 when not known", now.Year())})
		year = 2000
	}
	if days := daysIn(int(year), time.Month(b.Month)); b.Day < 1 || int(b.Day) > days {
		v = append(v, problem.FieldViolation{Field: "birthday.day", Description: fmt.Sprintf("must be 1-%d for month %d", days, b.Month)})
	}
	return v
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// On is the date the birthday falls on in a year: its month and day, and 28
// February for a 29 February birthday in a year that has none.
func (b Birthday) On(year int) (time.Month, int) {
	m, d := time.Month(b.Month), int(b.Day)
	if days := daysIn(year, m); d > days {
		d = days
	}
	return m, d
}

// validate is the rule of a profile's bounds: a valid birthday, a channel of at
// most 32 characters of A-Z a-z 0-9 . _ -, at most 20 attributes with keys of
// 1-32 word characters and values of at most 200 characters of text.
func (p Profile) validate(now time.Time) error {
	var v []problem.FieldViolation
	if p.Birthday != nil {
		v = append(v, p.Birthday.ValidDate(now)...)
	}
	if !channelPattern.MatchString(p.Channel) {
		v = append(v, problem.FieldViolation{Field: "channel", Description: fmt.Sprintf("must be at most %d characters of A-Z a-z 0-9 . _ -", maxChannelLength)})
	}
	if len(p.Attributes) > MaxAttributes {
		v = append(v, problem.FieldViolation{Field: "attributes", Description: fmt.Sprintf("must have at most %d keys", MaxAttributes)})
	}
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := p.Attributes[k]
		switch {
		case !attributeKeyPattern.MatchString(k):
			v = append(v, problem.FieldViolation{Field: "attributes", Description: fmt.Sprintf("key %q must be %s", k, attributeKeyFormat)})
		case len(val) > MaxAttributeValue || !validation.Text(val):
			v = append(v, problem.FieldViolation{Field: "attributes." + k, Description: fmt.Sprintf("must be at most %d bytes of text", MaxAttributeValue)})
		}
	}
	if len(v) > 0 {
		return problem.InvalidFields(v...)
	}
	return nil
}

// ProfileChange is a PATCH of a profile: what is set changes, the rest stays.
// An attribute set to "" is removed; ClearBirthday removes the birthday.
type ProfileChange struct {
	DisplayName   *string
	Birthday      *Birthday
	ClearBirthday bool
	Channel       *string
	Attributes    map[string]string
}

// applyTo is the member with the change made.
func (c ProfileChange) applyTo(m Member) Member {
	if c.DisplayName != nil {
		m.DisplayName = *c.DisplayName
	}
	switch {
	case c.ClearBirthday:
		m.Birthday = nil
	case c.Birthday != nil:
		b := *c.Birthday
		m.Birthday = &b
	}
	if c.Channel != nil {
		m.Channel = *c.Channel
	}
	if len(c.Attributes) > 0 {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		for k, v := range c.Attributes {
			if v == "" {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		m.Attributes = attrs
	}
	return m
}

// birthdayColumns are a birthday as its nullable columns.
func birthdayColumns(b *Birthday) (month, day, year *int16) {
	if b == nil {
		return nil, nil, nil
	}
	mo, d := int16(b.Month), int16(b.Day)
	month, day = &mo, &d
	if b.Year != 0 {
		y := int16(b.Year)
		year = &y
	}
	return month, day, year
}

func birthdayOf(month, day, year *int16) *Birthday {
	if month == nil || day == nil {
		return nil
	}
	b := &Birthday{Month: int32(*month), Day: int32(*day)}
	if year != nil {
		b.Year = int32(*year)
	}
	return b
}

func attributesJSON(a map[string]string) []byte {
	if a == nil {
		a = map[string]string{}
	}
	raw, err := json.Marshal(a)
	if err != nil {
		panic(fmt.Sprintf("encode attributes: %v", err)) // a map of strings: never fails
	}
	return raw
}

func attributesOf(raw []byte) map[string]string {
	a := map[string]string{}
	_ = json.Unmarshal(raw, &a) // written by attributesJSON, checked by the table
	return a
}
