package events

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file encodes and decodes JSON strings exactly as encoding/json does,
// for the canonical encoding (canonical.go, hash.go) and for working out
// the size of Encode's envelope (codec.go).

const hexDigits = "0123456789abcdef"

// asciiLen[html][b] is the encoded length of the ASCII byte b in a JSON
// string: 1 when it is written as itself, 2 for \" \\ \b \f \n \r \t, 6 for
// \u00XX. asciiLen[1] escapes '<', '>' and '&' as json.Marshal does,
// asciiLen[0] does not, as a json.Encoder with SetEscapeHTML(false).
var asciiLen = func() (t [2][utf8.RuneSelf]uint8) {
	for b := range utf8.RuneSelf {
		n := uint8(1)
		switch {
		case b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t':
			n = 2
		case b < ' ':
			n = 6
		}
		t[0][b], t[1][b] = n, n
		if b == '<' || b == '>' || b == '&' {
			t[1][b] = 6
		}
	}
	return t
}()

// asciiLenTable is asciiLen[1] if escapeHTML is set, else asciiLen[0].
func asciiLenTable(escapeHTML bool) *[utf8.RuneSelf]uint8 {
	if escapeHTML {
		return &asciiLen[1]
	}
	return &asciiLen[0]
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: '"', '\\' and control characters escaped (\b, \f, \n, \r, \t
// or \u00XX), invalid UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and
// \u2029, and, if escapeHTML is set (json.Marshal's default), '<', '>' and
// '&' as \u003c, \u003e and \u0026.
func appendJSONString[S []byte | string](dst []byte, s S, escapeHTML bool) []byte {
	lens := asciiLenTable(escapeHTML)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if lens[b] == 1 {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		// Convert at most utf8.UTFMax bytes, which needs no allocation.
		r, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringLen is len(appendJSONString(nil, s, true)): the length of s
// encoded by json.Marshal.
func jsonStringLen(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			n += int(asciiLen[1][b])
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += len(`\ufffd`)
		} else {
			n += size
		}
		i += size
	}
	return n
}

// htmlGrowth is how many bytes HTML-safe compaction adds to valid JSON: '<',
// '>' and '&' become \u003c, \u003e, \u0026, and U+2028 and U+2029 become
// \u2028 and \u2029. In valid JSON these only occur inside strings.
func htmlGrowth(b []byte) int {
	n := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '<', '>', '&':
			n += 5
		case 0xE2:
			if i+2 < len(b) && b[i+1] == 0x80 && b[i+2]&^1 == 0xA8 {
				n += 3
				i += 2
			}
		}
	}
	return n
}

// unquote decodes the JSON string whose contents start at in[i] the way
// encoding/json does, appending it to dst. It returns the index after the
// closing quote, or false if the string is not valid JSON.
func unquote(dst, in []byte, i int) ([]byte, int, bool) {
	for i < len(in) {
		switch b := in[i]; {
		case b == '"':
			return dst, i + 1, true
		case b < ' ':
			return dst, 0, false
		case b == '\\':
			if i+1 >= len(in) {
				return dst, 0, false
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b', 'f', 'n', 'r', 't':
				dst = append(dst, "\b\f\n\r\t"[strings.IndexByte("bfnrt", e)])
			case 'u':
				r := hex4(in, i)
				if r < 0 {
					return dst, 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A surrogate pair is one rune; anything else in
					// its place (including a lone surrogate) is U+FFFD.
					if dec := utf16.DecodeRune(r, hex4(in, i)); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, 0, false
			}
			i += 2
		case b < utf8.RuneSelf:
			dst = append(dst, b)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, r)
			} else {
				dst = append(dst, in[i:i+size]...)
			}
			i += size
		}
	}
	return dst, 0, false
}

// hex4 decodes the escape \uXXXX at in[i:], or returns -1.
func hex4(in []byte, i int) rune {
	if i+6 > len(in) || in[i] != '\\' || in[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, b := range in[i+2 : i+6] {
		switch {
		case '0' <= b && b <= '9':
			b -= '0'
		case 'a' <= b && b <= 'f':
			b -= 'a' - 10
		case 'A' <= b && b <= 'F':
			b -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(b)
	}
	return r
}
