package pattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Event is a decoded event, ready to be matched against many patterns.
type Event struct {
	root map[string]any
}

// ParseEvent decodes an EventBridge-shaped event (a JSON object).
func ParseEvent(event []byte) (Event, error) {
	v, err := decodeJSON(event)
	if err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Event{}, errors.New("decode event: an event must be a JSON object")
	}
	return Event{root: obj}, nil
}

// Match reports whether event, an EventBridge-shaped JSON object, matches
// p. The error is for an event that is not a JSON object.
func (p *Pattern) Match(event []byte) (bool, error) {
	ev, err := ParseEvent(event)
	if err != nil {
		return false, err
	}
	return p.MatchEvent(ev), nil
}

// MatchEvent is Match for an event decoded once with ParseEvent.
func (p *Pattern) MatchEvent(ev Event) bool { return p.root.match(ev.root) }

// match evaluates n against obj, the object at n's path; obj is nil when
// there is no object there (the field is missing or not an object).
func (n *node) match(obj map[string]any) bool {
	for i := range n.fields {
		if !n.fields[i].match(obj) {
			return false
		}
	}
	for _, alts := range n.ors {
		matched := false
		for _, a := range alts {
			if a.match(obj) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

func (f *field) match(obj map[string]any) bool {
	v, present := obj[f.name]
	if f.child != nil {
		return f.child.matchValue(v, present)
	}
	var vals []any
	if present {
		vals = leafValues(v, nil)
	}
	return f.leaf.match(vals)
}

// matchValue evaluates a nested pattern object against the event value at
// its path. An array is searched element by element, so that every field
// the sub-pattern matches comes from the same element.
func (n *node) matchValue(v any, present bool) bool {
	if !present {
		return n.match(nil)
	}
	switch x := v.(type) {
	case map[string]any:
		return n.match(x)
	case []any:
		objs := 0
		found := false
		forEachObject(x, func(o map[string]any) bool {
			objs++
			found = n.match(o)
			return !found
		})
		if found {
			return true
		}
		if objs == 0 {
			return n.match(nil)
		}
		return false
	default:
		return n.match(nil)
	}
}

// forEachObject calls fn for every object in arr and its nested arrays
// until fn returns false.
func forEachObject(arr []any, fn func(map[string]any) bool) bool {
	for _, e := range arr {
		switch x := e.(type) {
		case map[string]any:
			if !fn(x) {
				return false
			}
		case []any:
			if !forEachObject(x, fn) {
				return false
			}
		}
	}
	return true
}

// leafValues appends the scalar values at a leaf: the value itself, or
// every scalar of an array (nested arrays flattened). Objects are not leaf
// values.
func leafValues(v any, out []any) []any {
	switch x := v.(type) {
	case map[string]any:
		return out
	case []any:
		for _, e := range x {
			out = leafValues(e, out)
		}
		return out
	default:
		return append(out, v)
	}
}

func (l *leaf) match(vals []any) bool {
	if l.exists && len(vals) > 0 {
		return true
	}
	if l.notExists && len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, m := range l.matchers {
			if m.match(v) {
				return true
			}
		}
	}
	return false
}

// matcher tests one scalar event value: a string, a json.Number, a bool or
// nil (JSON null).
type matcher interface {
	match(v any) bool
}

type exactString string

func (m exactString) match(v any) bool {
	s, ok := v.(string)
	return ok && s == string(m)
}

// exactNumber matches a number equal to the pattern's: numerically when
// both are within the comparable range, and as written otherwise (an
// account number, say).
type exactNumber struct {
	text    string
	micro   int64
	numeric bool
}

func newExactNumber(n json.Number) exactNumber {
	m, ok := parseMicro(string(n))
	return exactNumber{text: string(n), micro: m, numeric: ok}
}

func (m exactNumber) match(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	if string(n) == m.text {
		return true
	}
	if !m.numeric {
		return false
	}
	em, ok := parseMicro(string(n))
	return ok && em == m.micro
}

type literalKind int

const (
	kindBool literalKind = iota
	kindNull
)

type exactLiteral struct {
	kind literalKind
	b    bool
}

func (m exactLiteral) match(v any) bool {
	if m.kind == kindNull {
		return v == nil
	}
	b, ok := v.(bool)
	return ok && b == m.b
}

// affix is prefix or suffix matching, optionally ignoring case (s is then
// lower case already).
type affix struct {
	suffix bool
	fold   bool
	s      string
}

func (m affix) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	return m.matchString(s)
}

func (m affix) matchString(s string) bool {
	if m.fold {
		s = strings.ToLower(s)
	}
	if m.suffix {
		return strings.HasSuffix(s, m.s)
	}
	return strings.HasPrefix(s, m.s)
}

// equalFold holds the lower-cased pattern value.
type equalFold string

func (m equalFold) match(v any) bool {
	s, ok := v.(string)
	return ok && strings.ToLower(s) == string(m)
}

// numericRange bounds are in millionths (see parseMicro).
type numericRange struct {
	hasLo, loIncl bool
	lo            int64
	hasHi, hiIncl bool
	hi            int64
}

func (r numericRange) match(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	x, ok := parseMicro(string(n))
	if !ok {
		return false
	}
	if r.hasLo && (x < r.lo || (x == r.lo && !r.loIncl)) {
		return false
	}
	if r.hasHi && (x > r.hi || (x == r.hi && !r.hiIncl)) {
		return false
	}
	return true
}

// anythingBut matches a value that none of its exclusions catch. An
// exclusion only catches values of its own type: a string list never
// excludes a number, and prefix, suffix, equals-ignore-case and wildcard
// exclusions only look at strings.
type anythingBut struct {
	strs      map[string]bool
	nums      map[int64]bool
	affixes   []affix
	folds     []string
	wildcards []wildcard
}

func (m anythingBut) match(v any) bool {
	switch x := v.(type) {
	case string:
		if m.strs[x] {
			return false
		}
		for _, a := range m.affixes {
			if a.matchString(x) {
				return false
			}
		}
		if len(m.folds) > 0 {
			lx := strings.ToLower(x)
			for _, f := range m.folds {
				if lx == f {
					return false
				}
			}
		}
		for _, w := range m.wildcards {
			if w.matchString(x) {
				return false
			}
		}
	case json.Number:
		if m.nums != nil {
			if n, ok := parseMicro(string(x)); ok && m.nums[n] {
				return false
			}
		}
	}
	return true
}

type cidr struct{ prefix netip.Prefix }

func (m cidr) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && m.prefix.Contains(a)
}
