package pattern

import (
	"fmt"
	"strings"
)

// wildcard is a compiled wildcard value: literal parts separated by '*',
// each '*' matching any run of characters (also none). In the pattern,
// "\*" is a literal asterisk and "\\" a literal backslash; any other
// backslash, and two '*' in a row, are invalid, as in EventBridge.
type wildcard struct {
	parts []string // len(parts) = number of '*' + 1
}

func compileWildcard(s string) (wildcard, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return wildcard{}, fmt.Errorf("consecutive wildcard characters at position %d", i)
			}
			parts = append(parts, cur.String())
			cur.Reset()
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\') {
				cur.WriteByte(s[i+1])
				i++
				continue
			}
			return wildcard{}, fmt.Errorf("invalid escape character at position %d", i)
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	return wildcard{parts: parts}, nil
}

func (w wildcard) match(v any) bool {
	s, ok := v.(string)
	return ok && w.matchString(s)
}

// matchString: the first part is a prefix, the last a suffix, and the
// middle parts occur in order in between; taking each middle part's
// leftmost occurrence is optimal for '*'-only globs.
func (w wildcard) matchString(s string) bool {
	if len(w.parts) == 1 {
		return s == w.parts[0]
	}
	first, last := w.parts[0], w.parts[len(w.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, p := range w.parts[1 : len(w.parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}
