package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
func CanonicalEncoding(e Event) ([]byte, error) {
	data, err := canonicalJSON(e.Data)
	if err != nil {
		return nil, fmt.Errorf("canonical data of %s@%d: %w", e.StreamID, e.Version, err)
	}
	m := e.Meta
	head, err := json.Marshal([]any{
		"streamer.v1", e.ID, e.StreamID, e.Version, e.Type, e.SchemaVersion,
		e.Time.UTC().Format(time.RFC3339Nano),
		[]string{m.Actor, m.Tenant, m.CorrelationID, m.CausationID, m.TraceID, m.Source},
	})
	if err != nil {
		return nil, err
	}
	// Append data as the last array element.
	out := make([]byte, 0, len(head)+len(data)+1)
	out = append(out, head[:len(head)-1]...)
	out = append(out, ',')
	out = append(out, data...)
	out = append(out, ']')
	return out, nil
}

// ComputeHash is hex(SHA-256(prevHash || 0x0A || CanonicalEncoding(e))), with
// prevHash the hex hash of the previous event ("" for version 1).
func ComputeHash(prevHash string, e Event) (string, error) {
	c, err := CanonicalEncoding(e)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(prevHash))
	h.Write([]byte{'\n'})
	h.Write(c)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// canonicalJSON re-encodes a JSON value with object keys sorted, numbers
// kept verbatim and no whitespace.
func canonicalJSON(raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("{}"), nil
	}
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
