package campaigns

import (
	"regexp"
	"strings"
	"testing"
)

// groupedCode is the shape of a normalized 16-symbol code.
var groupedCode = regexp.MustCompile(`^[^-]{4}-[^-]{4}-[^-]{4}-[^-]{4}$`)

// drawnCode is the code newCode draws from these 16 bytes (5 bits of each, as
// four groups of four symbols of codeAlphabet).
func drawnCode(b []byte) string {
	var sb strings.Builder
	for i := range 16 {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		var c byte
		if i < len(b) {
			c = b[i]
		}
		sb.WriteByte(codeAlphabet[c&31])
	}
	return sb.String()
}

// typed is the code as a person might type it, as the doc of NormalizeCode
// promises to read it: any case, dashes or spaces or neither, O for 0 and I or L
// for 1. how picks the variations.
func typed(code string, how []byte) string {
	at := func(i int) byte {
		if len(how) == 0 {
			return 0
		}
		return how[i%len(how)]
	}
	var sb strings.Builder
	for i := 0; i < len(code); i++ {
		c, h := code[i], at(i)
		switch {
		case c == '-':
			switch h % 3 {
			case 0:
				sb.WriteByte('-')
			case 1:
				sb.WriteByte(' ')
			}
			continue
		case c == '0' && h&4 != 0:
			c = 'O'
		case c == '1' && h&4 != 0:
			c = "IL"[h>>3&1]
		}
		if h&16 != 0 {
			c = strings.ToLower(string(c))[0]
		}
		sb.WriteByte(c)
		if h&32 != 0 && h&64 != 0 {
			sb.WriteByte(' ')
		}
	}
	return strings.Repeat(" ", int(at(99)>>7)) + sb.String()
}

// FuzzCouponCode: NormalizeCode never panics, reads every drawn code back from
// any way of typing it, and a code it gives is a fixed point (shown back and typed
// again, it finds the same coupon).
func FuzzCouponCode(f *testing.F) {
	for _, s := range []struct {
		typed string
		draw  []byte
		how   []byte
	}{
		{"KFH1-SZ4A-SX21-WB2C", []byte("0123456789abcdef"), nil},
		{"kfh1sz4asx21wb2c", []byte{31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 0, 1, 2, 3}, []byte{1, 2, 4, 8, 16, 32, 64, 128}},
		{" kfh1 sz4a sx21 wb2c ", []byte{0, 0, 0, 0, 1, 1, 1, 1}, []byte{255}},
		{"OIL0-OIL0-OIL0-OIL0", nil, []byte{4, 12, 20, 28}},
		{"", nil, nil},
		{"----", nil, nil},
		{"\x00\xff\xfe", nil, nil},
		{"ıııı-ıııı-ıııı-ıııı", nil, nil}, // dotless i: upper-cases to I
		{"ǅǅǅǅ", nil, nil},
		{"X\t-", nil, nil},
		{"KFH1\u00a0SZ4A\u00a0SX21\u00a0WB2C", nil, nil},
		{strings.Repeat("A", 10000), nil, nil},
	} {
		f.Add(s.typed, s.draw, s.how)
	}
	f.Fuzz(func(t *testing.T, input string, draw, how []byte) {
		got := NormalizeCode(input)
		if groupedCode.MatchString(got) {
			if again := NormalizeCode(got); again != got {
				t.Errorf("NormalizeCode(%q) = %q, which normalizes to %q", input, got, again)
			}
		}
		code := drawnCode(draw)
		if s := typed(code, how); NormalizeCode(s) != code {
			t.Errorf("code %s typed as %q reads as %q", code, s, NormalizeCode(s))
		}
	})
}

func TestDrawnCodesAreNormalized(t *testing.T) {
	for range 100 {
		c := newCode()
		if NormalizeCode(c) != c || !groupedCode.MatchString(c) || strings.Trim(strings.ReplaceAll(c, "-", ""), codeAlphabet) != "" {
			t.Fatalf("newCode() = %q, normalized %q", c, NormalizeCode(c))
		}
	}
}
