package client

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFrame: the decoder of server frames never panics, and what it
// accepts has a type, a non-negative version, and survives a round trip.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"event","requestId":"r","version":3,"event":"request.progress","time":"2026-01-02T03:04:05Z","data":{"percentage":50}}`))
	f.Add([]byte(`{"type":"error","action":"subscribe","clientRequestId":"c-1","error":{"code":"not_found","message":"no","retryable":false}}`))
	f.Add([]byte(`{"type":"queued","requestId":"r","version":1,"duplicate":true}`))
	f.Add([]byte(`{"type":"status","request":{"status":"running"}}`))
	f.Add([]byte(`{"version":-1,"type":"ack"}`))
	f.Add([]byte(`[]`))
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if err != nil {
			return
		}
		if fr.Type == "" || fr.Version < 0 {
			t.Fatalf("accepted %+v", fr)
		}
		// What the client derives from an event frame never panics either.
		e := Event{RequestID: fr.RequestID, Version: fr.Version, Type: fr.Event, Data: fr.Data}
		if p, ok := e.Progress(); ok && p.Version != fr.Version {
			t.Fatalf("progress %+v of %+v", p, fr)
		}
		for _, end := range []string{EventCompleted, EventFailed, EventCancelled, EventTimedOut} {
			e.Type = end
			if r := resultOf(e, nil); r.Status == "" || r.Err() == nil && end != EventCompleted {
				t.Fatalf("result of %s: %+v", end, r)
			}
		}
		again, err := decodeFrame(fr.Marshal())
		if err != nil || again.Type != fr.Type || again.Version != fr.Version || again.RequestID != fr.RequestID ||
			again.ClientRequestID != fr.ClientRequestID {
			t.Fatalf("round trip: %+v -> %+v (%v)", fr, again, err)
		}
	})
}

// FuzzRefusalMessage: the reason read from a refused handshake's body is
// bounded, valid UTF-8, and never panics.
func FuzzRefusalMessage(f *testing.F) {
	f.Add([]byte(`{"error":{"code":"unauthorized","message":"token expired"}}`))
	f.Add([]byte(`{"message":"nope"}`))
	f.Add([]byte("Unauthorized\n"))
	f.Add([]byte{0xff, 0xfe, 'x'})
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := refusalMessage(&http.Response{Body: io.NopCloser(bytes.NewReader(body))})
		if !utf8.ValidString(msg) || len(msg) > 1024*3 {
			t.Fatalf("message %q", msg)
		}
	})
}
