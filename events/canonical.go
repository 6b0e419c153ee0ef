package events

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// This file holds the hand-written canonicalizer behind CanonicalEncoding.
// It produces, byte for byte, what the original implementation produced
// (stdCanonicalJSON: encoding/json decoding into interface values with
// UseNumber, then encoding them again with SetEscapeHTML(false)), in one
// pass over the input and without building interface values:
//
//   - whitespace outside strings is dropped;
//   - object keys are sorted byte-wise by their decoded (unescaped) form, and
//     of duplicate keys only the last is kept, as a Go map would;
//   - numbers are copied as written;
//   - strings are decoded and re-encoded the way encoding/json does: escapes
//     resolved, invalid UTF-8 and lone surrogates become U+FFFD, and only '"',
//     '\\', control characters, U+2028 and U+2029 are escaped. A string
//     without escapes that needs none of that is copied as it is;
//   - like json.Decoder, only the first JSON value is read: anything after it
//     is ignored.
//
// The canonicalizer only reports success or failure. On failure the caller
// runs stdCanonicalJSON, so that invalid data fails with encoding/json's own
// error text. The golden tests (hash_golden_test.go) and FuzzCanonicalJSON
// hold the two implementations to the same output.

// maxNestingDepth is encoding/json's limit on nested arrays and objects;
// deeper input is an error there, so the fast path rejects it too.
const maxNestingDepth = 10000

// canonicalizer is the state of one canonicalization. Its buffers are reused
// through canonicalizers, a sync.Pool (see hash.go).
type canonicalizer struct {
	in      []byte   // the JSON being read
	pos     int      // read position in in
	ws      int      // whitespace bytes skipped outside strings
	out     []byte   // output; CanonicalEncoding's header is written here too
	members []member // members of the objects being read, innermost last
	scratch []byte   // decoded strings; members while they are reordered
}

// member is one object member already written to out.
type member struct {
	key        []byte // the decoded key, the sort key
	start, end int    // `"key":value` is out[start:end]
}

// appendData appends the canonical form of the JSON value at the start of
// raw to c.out and reports whether raw was valid up to the end of that value.
// compactLen is then the length json.Compact with HTML escaping (what
// json.Marshal makes of a json.RawMessage) gives raw, or -1 when raw holds
// more than the value and surrounding whitespace. On failure c.out is
// unchanged.
func (c *canonicalizer) appendData(raw []byte) (compactLen int, ok bool) {
	c.in, c.pos, c.ws = raw, 0, 0
	mark := len(c.out)
	ok = c.value(0)
	if ok {
		c.skipSpace()
	}
	c.in = nil
	switch {
	case !ok:
		c.out = c.out[:mark]
		clear(c.members[:cap(c.members)])
		c.members = c.members[:0]
		return -1, false
	case c.pos < len(raw):
		return -1, true
	}
	return len(raw) - c.ws + htmlGrowth(raw), true
}

// skipSpace advances past JSON whitespace, counting it.
func (c *canonicalizer) skipSpace() {
	in, i := c.in, c.pos
	for i < len(in) && (in[i] == ' ' || in[i] == '\n' || in[i] == '\r' || in[i] == '\t') {
		i++
	}
	c.ws += i - c.pos
	c.pos = i
}

// next skips whitespace and returns the next byte, or 0 at the end.
func (c *canonicalizer) next() byte {
	c.skipSpace()
	if c.pos < len(c.in) {
		return c.in[c.pos]
	}
	return 0
}

// value reads one JSON value nested depth containers deep.
func (c *canonicalizer) value(depth int) bool {
	switch b := c.next(); {
	case b == '{':
		return c.object(depth + 1)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		_, ok := c.string(false)
		return ok
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	}
	return false
}

// object reads an object and writes its members sorted by key.
func (c *canonicalizer) object(depth int) bool {
	if depth > maxNestingDepth {
		return false
	}
	c.pos++
	c.out = append(c.out, '{')
	start, base := len(c.out), len(c.members)
	if c.next() == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return true
	}
	for {
		if c.next() != '"' {
			return false
		}
		m := member{start: len(c.out)}
		var ok bool
		if m.key, ok = c.string(true); !ok || c.next() != ':' {
			return false
		}
		c.pos++
		c.out = append(c.out, ':')
		if !c.value(depth) {
			return false
		}
		m.end = len(c.out)
		c.members = append(c.members, m)
		switch c.next() {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
			continue
		case '}':
			c.pos++
		default:
			return false
		}
		break
	}
	c.sortMembers(start, c.members[base:])
	clear(c.members[base:])
	c.members = c.members[:base]
	c.out = append(c.out, '}')
	return true
}

// sortMembers rewrites the members ms, written from out[start:] in input
// order and separated by commas, in key order, keeping only the last of
// members with equal keys (a later duplicate key overwrites an earlier one in
// the map encoding/json decodes into).
func (c *canonicalizer) sortMembers(start int, ms []member) {
	ordered := true
	for i := 1; i < len(ms) && ordered; i++ {
		ordered = bytes.Compare(ms[i-1].key, ms[i].key) < 0
	}
	if ordered {
		return
	}
	// Stable, so that of equal keys the last in the input comes last.
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	c.scratch = append(c.scratch[:0], c.out[start:]...)
	c.out = c.out[:start]
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(m.key, ms[i+1].key) {
			continue
		}
		if len(c.out) > start {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.scratch[m.start-start:m.end-start]...)
	}
}

// array reads an array.
func (c *canonicalizer) array(depth int) bool {
	if depth > maxNestingDepth {
		return false
	}
	c.pos++
	c.out = append(c.out, '[')
	if c.next() == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value(depth) {
			return false
		}
		switch c.next() {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return true
		default:
			return false
		}
	}
}

// literal reads true, false or null.
func (c *canonicalizer) literal(word string) bool {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(word)) {
		return false
	}
	c.pos += len(word)
	c.out = append(c.out, word...)
	return true
}

// number reads a number and copies it as written.
func (c *canonicalizer) number() bool {
	in, i := c.in, c.pos
	digits := func() bool {
		n := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		return i > n
	}
	if in[i] == '-' {
		i++
	}
	if i < len(in) && in[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	c.out = append(c.out, in[c.pos:i]...)
	c.pos = i
	return true
}

// string reads a string and writes it re-encoded. If key is set it also
// returns the decoded string: a slice of the input when there was nothing to
// decode, else a copy.
func (c *canonicalizer) string(key bool) ([]byte, bool) {
	in, start := c.in, c.pos+1
	for i := start; i < len(in); {
		b := in[i]
		if b == '"' {
			// Nothing to decode and nothing to escape: copy it.
			c.out = append(c.out, in[c.pos:i+1]...)
			c.pos = i + 1
			return in[start:i], true
		}
		if b < ' ' || b == '\\' {
			break
		}
		if b < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			break
		}
		i += size
	}
	decoded, end, ok := unquote(c.scratch[:0], in, start)
	if !ok {
		return nil, false
	}
	c.scratch = decoded
	c.out = appendJSONString(c.out, decoded, false)
	c.pos = end
	if key {
		return bytes.Clone(decoded), true
	}
	return nil, true
}
