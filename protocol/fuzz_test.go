package protocol_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/streamer/streamer/protocol"
)

var codes = map[string]bool{
	protocol.CodeInvalidJSON: true, protocol.CodeInvalidFrame: true, protocol.CodeMessageTooLarge: true,
}

// FuzzDecode: Decode never panics; it refuses with one of its three codes
// and a message, or accepts a frame that satisfies every documented bound
// and decodes again, re-encoded, to the same frame.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"action":"ping"}`))
	f.Add([]byte(`{"action":"subscribe","requestId":"r","fromVersion":3}`))
	f.Add([]byte(`{"action":"echo","payload":{"message":"hi"},"idempotencyKey":"k","clientRequestId":"c"}`))
	f.Add([]byte(`{"action":"cancel","requestId":"r","reason":"stop"}`))
	f.Add([]byte(`{"action":"subscribe","fromVersion":-1}`))
	f.Add([]byte(`{"action":1}`))
	f.Add([]byte(`{"action":"status","requestId":5,"clientRequestId":"c"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := protocol.Decode(data)
		if err != nil {
			if !codes[err.Code] || err.Message == "" {
				t.Fatalf("refusal %+v: unexpected code or empty message", err)
			}
			_ = protocol.ErrorFrame(&in, err).Marshal()
			return
		}
		switch {
		case len(data) > protocol.MaxMessageSize:
			t.Fatalf("accepted %d bytes", len(data))
		case in.Action == "" || len(in.Action) > protocol.MaxActionLength:
			t.Fatalf("accepted action %q", in.Action)
		case len(in.RequestID) > protocol.MaxIDLength || len(in.ClientRequestID) > protocol.MaxIDLength || len(in.IdempotencyKey) > protocol.MaxIDLength:
			t.Fatalf("accepted an ID over %d bytes: %+v", protocol.MaxIDLength, in)
		case len(in.Reason) > protocol.MaxReasonLength:
			t.Fatalf("accepted a reason of %d bytes", len(in.Reason))
		case in.FromVersion < 0:
			t.Fatalf("accepted fromVersion %d", in.FromVersion)
		case !utf8.ValidString(in.Action) || !utf8.ValidString(in.RequestID):
			t.Fatalf("accepted invalid UTF-8: %+v", in)
		}
		switch in.Action {
		case protocol.ActionSubscribe, protocol.ActionUnsubscribe, protocol.ActionCancel, protocol.ActionStatus:
			if in.RequestID == "" {
				t.Fatalf("accepted %s without requestId", in.Action)
			}
		}
		if in.Payload != nil && !json.Valid(in.Payload) {
			t.Fatalf("payload %q is not JSON", in.Payload)
		}
		enc, merr := json.Marshal(in)
		if merr != nil {
			t.Fatalf("re-encode: %v", merr)
		}
		again, err := protocol.Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		enc2, _ := json.Marshal(again)
		if string(enc) != string(enc2) {
			t.Fatalf("round trip changed the frame:\n%s\n%s", enc, enc2)
		}
	})
}
