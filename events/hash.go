package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// CanonicalEncoding is the byte string an event's hash covers: a JSON array
// with the fields in a fixed order and the data re-encoded with sorted keys,
// no insignificant whitespace and numbers kept as written. The same event
// therefore hashes the same whatever backend stored it and however that
// backend re-serialises JSON.
//
//	["streamer.v1", id, stream, version, type, schemaVersion, time(RFC3339Nano UTC),
//	 [actor, tenant, correlationId, causationId, traceId, source], data]
//
// The strings of the header are escaped as json.Marshal escapes them (HTML
// characters included), those of the data as a json.Encoder with
// SetEscapeHTML(false) does; canonical.go has the details.
func CanonicalEncoding(e Event) ([]byte, error) {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	if _, err := c.appendEvent(e); err != nil {
		return nil, err
	}
	return bytes.Clone(c.out), nil
}

// ComputeHash is hex(SHA-256(prevHash || 0x0A || CanonicalEncoding(e))), with
// prevHash the hex hash of the previous event ("" for version 1).
func ComputeHash(prevHash string, e Event) (string, error) {
	h, _, err := hashEvent(prevHash, e)
	return h, err
}

// hashEvent is ComputeHash that also returns the length json.Marshal gives
// e.Data inside Encode's envelope (see canonicalizer.appendData), or -1 if
// it is not known.
func hashEvent(prevHash string, e Event) (hash string, dataLen int, err error) {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	c.out = append(c.out, prevHash...)
	c.out = append(c.out, '\n')
	if dataLen, err = c.appendEvent(e); err != nil {
		return "", -1, err
	}
	sum := sha256.Sum256(c.out)
	return hex.EncodeToString(sum[:]), dataLen, nil
}

// appendEvent appends CanonicalEncoding(e) to c.out and returns what
// appendData says of e.Data's compact length.
func (c *canonicalizer) appendEvent(e Event) (dataLen int, err error) {
	m := e.Meta
	c.out = append(c.out, `["streamer.v1",`...)
	c.out = appendJSONString(c.out, e.ID, true)
	c.out = append(c.out, ',')
	c.out = appendJSONString(c.out, e.StreamID, true)
	c.out = append(c.out, ',')
	c.out = strconv.AppendInt(c.out, e.Version, 10)
	c.out = append(c.out, ',')
	c.out = appendJSONString(c.out, e.Type, true)
	c.out = append(c.out, ',')
	c.out = strconv.AppendInt(c.out, int64(e.SchemaVersion), 10)
	c.out = append(c.out, ',')
	var tb [64]byte
	c.out = appendJSONString(c.out, e.Time.UTC().AppendFormat(tb[:0], time.RFC3339Nano), true)
	c.out = append(c.out, ",["...)
	for i, s := range [...]string{m.Actor, m.Tenant, m.CorrelationID, m.CausationID, m.TraceID, m.Source} {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = appendJSONString(c.out, s, true)
	}
	c.out = append(c.out, "],"...)
	if dataLen, err = c.appendCanonicalData(e.Data); err != nil {
		return -1, fmt.Errorf("canonical data of %s@%d: %w", e.StreamID, e.Version, err)
	}
	c.out = append(c.out, ']')
	return dataLen, nil
}

// appendCanonicalData appends canonicalJSON(raw) to c.out.
func (c *canonicalizer) appendCanonicalData(raw json.RawMessage) (dataLen int, err error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		c.out = append(c.out, "{}"...)
		return -1, nil
	}
	if dataLen, ok := c.appendData(raw); ok {
		return dataLen, nil
	}
	// Invalid JSON (or, in theory, JSON the fast path does not take):
	// encoding/json decides, and words the error.
	out, err := stdCanonicalJSON(raw)
	if err != nil {
		return -1, err
	}
	c.out = append(c.out, out...)
	return -1, nil
}

// canonicalJSON re-encodes a JSON value with object keys sorted, numbers
// kept verbatim and no whitespace. Blank input is the empty object.
func canonicalJSON(raw json.RawMessage) ([]byte, error) {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	if _, err := c.appendCanonicalData(raw); err != nil {
		return nil, err
	}
	return bytes.Clone(c.out), nil
}

// stdCanonicalJSON is the definition canonicalJSON implements, with
// encoding/json: decode into interface values (numbers as json.Number),
// encode with sorted map keys and no HTML escaping. canonicalJSON uses it
// only when its own scanner rejects the input.
func stdCanonicalJSON(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// canonicalizers recycles canonicalizers and their buffers.
var canonicalizers = sync.Pool{New: func() any { return new(canonicalizer) }}

func getCanonicalizer() *canonicalizer { return canonicalizers.Get().(*canonicalizer) }

// putCanonicalizer returns c to the pool unless its buffers grew unusually
// large (a near-limit event), which would otherwise stay allocated.
func putCanonicalizer(c *canonicalizer) {
	if cap(c.out) > 64<<10 || cap(c.scratch) > 64<<10 {
		return
	}
	c.out, c.scratch = c.out[:0], c.scratch[:0]
	canonicalizers.Put(c)
}

// Verify recomputes the hash chain of one stream's events, given in version
// order starting at version 1. It returns nil when every link holds, or a
// *ChainError (matching ErrChainBroken) naming the first broken version: a
// gap or duplicate, a PrevHash that is not the previous Hash, or a Hash that
// does not match the event's content.
func Verify(evs []Event) error {
	prev := ""
	for i, e := range evs {
		want := int64(i + 1)
		stream := e.StreamID
		if i > 0 && e.StreamID != evs[0].StreamID {
			return &ChainError{Stream: evs[0].StreamID, Version: want, Reason: fmt.Sprintf("event of another stream %q", e.StreamID)}
		}
		if e.Version != want {
			return &ChainError{Stream: stream, Version: want, Reason: fmt.Sprintf("expected version %d, found %d", want, e.Version)}
		}
		if e.PrevHash != prev {
			return &ChainError{Stream: stream, Version: want, Reason: "prevHash does not match the hash of the previous event"}
		}
		h, err := ComputeHash(prev, e)
		if err != nil {
			return &ChainError{Stream: stream, Version: want, Reason: err.Error()}
		}
		if h != e.Hash {
			return &ChainError{Stream: stream, Version: want, Reason: "hash does not match the event's content"}
		}
		prev = e.Hash
	}
	return nil
}
