package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
)

// ErrInvalidPattern is matched (errors.Is) by every error Compile returns.
var ErrInvalidPattern = errors.New("invalid event pattern")

// Error says where a pattern is invalid and why. It matches
// ErrInvalidPattern.
type Error struct {
	Path   string // dotted path of the field, "" for the pattern itself
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("invalid event pattern: %s", e.Reason)
	}
	return fmt.Sprintf("invalid event pattern: at %s: %s", e.Path, e.Reason)
}

func (e *Error) Unwrap() error { return ErrInvalidPattern }

// Pattern is a compiled event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	root *node
	src  string
}

// node is one object level of a pattern: every field must match (AND), and
// for every $or group at least one alternative must match.
type node struct {
	fields []field
	ors    [][]*node
}

// field is one key of a pattern object: either a nested object (child) or
// a leaf with its list of accepted values (OR).
type field struct {
	name  string
	child *node
	leaf  *leaf
}

type leaf struct {
	exists    bool // an {"exists": true} is in the list
	notExists bool // an {"exists": false} is in the list
	matchers  []matcher
}

// orKeyword introduces an OR of sub-patterns.
const orKeyword = "$or"

// reservedInOr are field names that may not appear inside a $or branch,
// where EventBridge would take them for a mistyped match expression.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true, "anything-but": true,
	"exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true, "regex": true,
	"not-wildcard": true, "not-equals-ignore-case": true, "date-after": true, "date-on-or-after": true,
	"date-before": true, "date-on-or-before": true, "in-date-range": true,
	"ip-address-in-range": true, "ip-address-not-in-range": true,
}

// Compile parses and checks an EventBridge event pattern.
func Compile(pattern []byte) (*Pattern, error) {
	v, err := decodeJSON(pattern)
	if err != nil {
		return nil, &Error{Reason: "not valid JSON: " + err.Error()}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Reason: "a pattern must be a JSON object"}
	}
	root, err := compileObject(obj, "", false)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root, src: string(pattern)}, nil
}

// MustCompile is Compile for patterns known to be valid; it panics on error.
func MustCompile(pattern string) *Pattern {
	p, err := Compile([]byte(pattern))
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the pattern's source text.
func (p *Pattern) String() string { return p.src }

// decodeJSON decodes one JSON value, keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// sortedKeys gives a deterministic field order, so that errors name the
// same field every time.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func compileObject(obj map[string]any, path string, inOr bool) (*node, error) {
	if len(obj) == 0 {
		return nil, &Error{Path: path, Reason: "empty objects are not allowed"}
	}
	n := &node{}
	for _, name := range sortedKeys(obj) {
		v := obj[name]
		if name == orKeyword {
			alts, err := compileOr(v, path)
			if err != nil {
				return nil, err
			}
			n.ors = append(n.ors, alts)
			continue
		}
		fp := join(path, name)
		if inOr && reservedInOr[name] {
			return nil, &Error{Path: fp, Reason: fmt.Sprintf("%q is a reserved name and cannot be a field inside $or", name)}
		}
		switch x := v.(type) {
		case map[string]any:
			child, err := compileObject(x, fp, inOr)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name: name, child: child})
		case []any:
			l, err := compileLeaf(x, fp)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, field{name: name, leaf: l})
		default:
			return nil, &Error{Path: fp, Reason: fmt.Sprintf("%q must be an object or an array", name)}
		}
	}
	return n, nil
}

func compileOr(v any, path string) ([]*node, error) {
	fp := join(path, orKeyword)
	arr, ok := v.([]any)
	if !ok {
		return nil, &Error{Path: fp, Reason: "$or must be followed by an array"}
	}
	if len(arr) < 2 {
		return nil, &Error{Path: fp, Reason: "$or needs at least 2 objects"}
	}
	alts := make([]*node, 0, len(arr))
	for _, a := range arr {
		obj, ok := a.(map[string]any)
		if !ok {
			return nil, &Error{Path: fp, Reason: "only JSON objects are allowed in a $or array"}
		}
		// The branch's fields live at the same level as $or itself.
		n, err := compileObject(obj, path, true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
	}
	return alts, nil
}

func compileLeaf(arr []any, path string) (*leaf, error) {
	if len(arr) == 0 {
		return nil, &Error{Path: path, Reason: "empty arrays are not allowed"}
	}
	l := &leaf{}
	for _, v := range arr {
		switch x := v.(type) {
		case string:
			l.matchers = append(l.matchers, exactString(x))
		case json.Number:
			l.matchers = append(l.matchers, newExactNumber(x))
		case bool:
			l.matchers = append(l.matchers, exactLiteral{kind: kindBool, b: x})
		case nil:
			l.matchers = append(l.matchers, exactLiteral{kind: kindNull})
		case map[string]any:
			if err := compileExpr(l, x, path); err != nil {
				return nil, err
			}
		default:
			return nil, &Error{Path: path, Reason: "match values must be strings, numbers, true, false, null or match expressions"}
		}
	}
	return l, nil
}

// compileExpr adds one match expression ({"prefix": …}, …) to l.
func compileExpr(l *leaf, expr map[string]any, path string) error {
	if len(expr) != 1 {
		return &Error{Path: path, Reason: fmt.Sprintf("a match expression has exactly one key, got %d", len(expr))}
	}
	var op string
	var arg any
	for op, arg = range expr {
	}
	bad := func(format string, args ...any) error {
		return &Error{Path: path, Reason: op + ": " + fmt.Sprintf(format, args...)}
	}
	switch op {
	case "prefix", "suffix":
		s, fold, ok := stringOrIgnoreCase(arg)
		if !ok {
			return bad("must be a string or {\"equals-ignore-case\": string}")
		}
		l.matchers = append(l.matchers, affix{suffix: op == "suffix", fold: fold, s: foldIf(s, fold)})
	case "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return bad("must be a string")
		}
		l.matchers = append(l.matchers, equalFold(strings.ToLower(s)))
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return bad("must be a string")
		}
		w, err := compileWildcard(s)
		if err != nil {
			return bad("%v", err)
		}
		l.matchers = append(l.matchers, w)
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return bad("must be true or false")
		}
		if b {
			l.exists = true
		} else {
			l.notExists = true
		}
	case "numeric":
		r, err := compileNumeric(arg)
		if err != nil {
			return bad("%v", err)
		}
		l.matchers = append(l.matchers, r)
	case "anything-but":
		m, err := compileAnythingBut(arg)
		if err != nil {
			return bad("%v", err)
		}
		l.matchers = append(l.matchers, m)
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return bad("must be a string")
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return bad("%q is not a CIDR block", s)
		}
		l.matchers = append(l.matchers, cidr{p.Masked()})
	default:
		return &Error{Path: path, Reason: fmt.Sprintf("unrecognized match type %q", op)}
	}
	return nil
}

// stringOrIgnoreCase reads the argument of prefix and suffix: a string, or
// {"equals-ignore-case": string}.
func stringOrIgnoreCase(arg any) (s string, fold, ok bool) {
	switch x := arg.(type) {
	case string:
		return x, false, true
	case map[string]any:
		if len(x) != 1 {
			return "", false, false
		}
		s, ok := x["equals-ignore-case"].(string)
		return s, true, ok
	}
	return "", false, false
}

func foldIf(s string, fold bool) string {
	if fold {
		return strings.ToLower(s)
	}
	return s
}

// compileNumeric reads ["=", v], [">"|">=", v] or ["<"|"<=", v], or a
// range [">"|">=", lo, "<"|"<=", hi] with lo < hi.
func compileNumeric(arg any) (numericRange, error) {
	var r numericRange
	arr, ok := arg.([]any)
	if !ok {
		return r, errors.New("must be an array")
	}
	operand := func(i int) (int64, error) {
		if i >= len(arr) {
			return 0, fmt.Errorf("operator %v has no value", arr[i-1])
		}
		n, ok := arr[i].(json.Number)
		if !ok {
			return 0, fmt.Errorf("value of %v must be a number", arr[i-1])
		}
		m, ok := parseMicro(string(n))
		if !ok {
			return 0, fmt.Errorf("%s is out of range: numbers must be between -5e9 and 5e9 with at most 6 decimal places", n)
		}
		return m, nil
	}
	op := func(i int) (string, error) {
		s, ok := arr[i].(string)
		if !ok {
			return "", fmt.Errorf("expected an operator (=, <, <=, >, >=), got %v", arr[i])
		}
		return s, nil
	}
	if len(arr) == 0 {
		return r, errors.New("must not be empty")
	}
	first, err := op(0)
	if err != nil {
		return r, err
	}
	v, err := operand(1)
	if err != nil {
		return r, err
	}
	switch first {
	case "=":
		r.hasLo, r.loIncl, r.lo, r.hasHi, r.hiIncl, r.hi = true, true, v, true, true, v
		if len(arr) > 2 {
			return r, errors.New("too many elements after \"=\"")
		}
		return r, nil
	case "<", "<=":
		r.hasHi, r.hiIncl, r.hi = true, first == "<=", v
		if len(arr) > 2 {
			return r, fmt.Errorf("too many elements after %q: a range starts with > or >=", first)
		}
		return r, nil
	case ">", ">=":
		r.hasLo, r.loIncl, r.lo = true, first == ">=", v
	default:
		return r, fmt.Errorf("unrecognized numeric operator %q", first)
	}
	if len(arr) == 2 {
		return r, nil
	}
	second, err := op(2)
	if err != nil {
		return r, err
	}
	if second != "<" && second != "<=" {
		return r, fmt.Errorf("bad range operator %q: the upper bound takes < or <=", second)
	}
	if r.hi, err = operand(3); err != nil {
		return r, err
	}
	if len(arr) > 4 {
		return r, errors.New("too many elements in numeric range")
	}
	r.hasHi, r.hiIncl = true, second == "<="
	if r.lo >= r.hi {
		return r, errors.New("the lower bound must be less than the upper bound")
	}
	return r, nil
}

// compileAnythingBut reads a string, a number, a list of only strings or
// only numbers, or {"prefix"|"suffix"|"equals-ignore-case"|"wildcard":
// string or list of strings}.
func compileAnythingBut(arg any) (matcher, error) {
	switch x := arg.(type) {
	case string:
		return anythingBut{strs: map[string]bool{x: true}}, nil
	case json.Number:
		m, ok := parseMicro(string(x))
		if !ok {
			return nil, fmt.Errorf("%s is out of range: numbers must be between -5e9 and 5e9 with at most 6 decimal places", x)
		}
		return anythingBut{nums: map[int64]bool{m: true}}, nil
	case []any:
		ab := anythingBut{}
		for _, v := range x {
			switch y := v.(type) {
			case string:
				if ab.strs == nil {
					ab.strs = map[string]bool{}
				}
				ab.strs[y] = true
			case json.Number:
				m, ok := parseMicro(string(y))
				if !ok {
					return nil, fmt.Errorf("%s is out of range: numbers must be between -5e9 and 5e9 with at most 6 decimal places", y)
				}
				if ab.nums == nil {
					ab.nums = map[int64]bool{}
				}
				ab.nums[m] = true
			default:
				return nil, errors.New("a list may hold only strings or only numbers (no null, boolean, object or array)")
			}
		}
		if (ab.strs == nil) == (ab.nums == nil) {
			return nil, errors.New("a list must hold either all strings or all numbers, and at least one")
		}
		return ab, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, errors.New("the object takes exactly one of prefix, suffix, equals-ignore-case, wildcard")
		}
		var op string
		var v any
		for op, v = range x {
		}
		var list []string
		switch y := v.(type) {
		case string:
			list = []string{y}
		case []any:
			for _, e := range y {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s values must be strings", op)
				}
				list = append(list, s)
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("%s list must not be empty", op)
			}
		default:
			return nil, fmt.Errorf("%s must be a string or a list of strings", op)
		}
		ab := anythingBut{}
		for _, s := range list {
			switch op {
			case "prefix", "suffix":
				if s == "" {
					return nil, fmt.Errorf("empty %s is not allowed", op)
				}
				ab.affixes = append(ab.affixes, affix{suffix: op == "suffix", s: s})
			case "equals-ignore-case":
				ab.folds = append(ab.folds, strings.ToLower(s))
			case "wildcard":
				w, err := compileWildcard(s)
				if err != nil {
					return nil, err
				}
				ab.wildcards = append(ab.wildcards, w)
			default:
				return nil, fmt.Errorf("unsupported anything-but pattern %q", op)
			}
		}
		return ab, nil
	}
	return nil, errors.New("must be a string, a number, a list, or an object")
}
