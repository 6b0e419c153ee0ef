package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamer/streamer/protocol"
)

func TestDecode(t *testing.T) {
	long := strings.Repeat("x", protocol.MaxIDLength+1)
	for _, tc := range []struct {
		name string
		in   string
		code string // "" = accepted
		want protocol.Inbound
	}{
		{name: "ping", in: `{"action":"ping"}`, want: protocol.Inbound{Action: "ping"}},
		{name: "whitespace around", in: " \n\t{\"action\":\"ping\"}\r\n ", want: protocol.Inbound{Action: "ping"}},
		{name: "handler action", in: `{"action":"echo","payload":{"message":"hi"},"idempotencyKey":"k","clientRequestId":"c"}`,
			want: protocol.Inbound{Action: "echo", Payload: json.RawMessage(`{"message":"hi"}`), IdempotencyKey: "k", ClientRequestID: "c"}},
		{name: "null payload", in: `{"action":"echo","payload":null}`, want: protocol.Inbound{Action: "echo"}},
		{name: "subscribe", in: `{"action":"subscribe","requestId":"r","fromVersion":7}`, want: protocol.Inbound{Action: "subscribe", RequestID: "r", FromVersion: 7}},
		{name: "cancel", in: `{"action":"cancel","requestId":"r","reason":"no"}`, want: protocol.Inbound{Action: "cancel", RequestID: "r", Reason: "no"}},
		{name: "unknown fields ignored", in: `{"action":"ping","future":{"x":1}}`, want: protocol.Inbound{Action: "ping"}},
		{name: "empty", in: ``, code: protocol.CodeInvalidJSON},
		{name: "array", in: `[{"action":"ping"}]`, code: protocol.CodeInvalidJSON},
		{name: "string", in: `"ping"`, code: protocol.CodeInvalidJSON},
		{name: "truncated", in: `{"action":"ping"`, code: protocol.CodeInvalidJSON},
		{name: "two objects", in: `{"action":"ping"}{"action":"ping"}`, code: protocol.CodeInvalidJSON},
		{name: "invalid UTF-8", in: "{\"action\":\"p\xffing\"}", code: protocol.CodeInvalidJSON},
		{name: "too large", in: `{"action":"echo","payload":"` + strings.Repeat("x", protocol.MaxMessageSize) + `"}`, code: protocol.CodeMessageTooLarge},
		{name: "missing action", in: `{"requestId":"r"}`, code: protocol.CodeInvalidFrame},
		{name: "action not a string", in: `{"action":7}`, code: protocol.CodeInvalidFrame},
		{name: "fromVersion a string", in: `{"action":"subscribe","requestId":"r","fromVersion":"1"}`, code: protocol.CodeInvalidFrame},
		{name: "fromVersion a fraction", in: `{"action":"subscribe","requestId":"r","fromVersion":1.5}`, code: protocol.CodeInvalidFrame},
		{name: "negative fromVersion", in: `{"action":"subscribe","requestId":"r","fromVersion":-1}`, code: protocol.CodeInvalidFrame},
		{name: "action too long", in: `{"action":"` + strings.Repeat("a", protocol.MaxActionLength+1) + `"}`, code: protocol.CodeInvalidFrame},
		{name: "requestId too long", in: `{"action":"status","requestId":"` + long + `"}`, code: protocol.CodeInvalidFrame},
		{name: "idempotencyKey too long", in: `{"action":"echo","idempotencyKey":"` + long + `"}`, code: protocol.CodeInvalidFrame},
		{name: "clientRequestId too long", in: `{"action":"echo","clientRequestId":"` + long + `"}`, code: protocol.CodeInvalidFrame},
		{name: "reason too long", in: `{"action":"cancel","requestId":"r","reason":"` + strings.Repeat("r", protocol.MaxReasonLength+1) + `"}`, code: protocol.CodeInvalidFrame},
		{name: "subscribe without requestId", in: `{"action":"subscribe"}`, code: protocol.CodeInvalidFrame},
		{name: "unsubscribe without requestId", in: `{"action":"unsubscribe"}`, code: protocol.CodeInvalidFrame},
		{name: "cancel without requestId", in: `{"action":"cancel"}`, code: protocol.CodeInvalidFrame},
		{name: "status without requestId", in: `{"action":"status"}`, code: protocol.CodeInvalidFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.Decode([]byte(tc.in))
			if tc.code != "" {
				if err == nil || err.Code != tc.code {
					t.Fatalf("Decode = %+v, %v; want code %s", got, err, tc.code)
				}
				if err.Message == "" {
					t.Error("error without a message")
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tc.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("Decode = %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

// A frame refused after parsing still names its action, so the error
// frame can echo it.
func TestDecodeKeepsActionOnRefusal(t *testing.T) {
	in, err := protocol.Decode([]byte(`{"action":"subscribe","clientRequestId":"c9"}`))
	if err == nil {
		t.Fatal("accepted subscribe without requestId")
	}
	f := protocol.ErrorFrame(&in, err)
	if f.Type != protocol.TypeError || f.Action != "subscribe" || f.ClientRequestID != "c9" || f.Error.Code != protocol.CodeInvalidFrame {
		t.Fatalf("error frame %+v", f)
	}
}

func TestIsReserved(t *testing.T) {
	for _, a := range []string{"subscribe", "unsubscribe", "cancel", "status", "ping"} {
		if !protocol.IsReserved(a) {
			t.Errorf("%s not reserved", a)
		}
	}
	for _, a := range []string{"echo", "generate_report", "", "Ping"} {
		if protocol.IsReserved(a) {
			t.Errorf("%q reserved", a)
		}
	}
}

// A frame refused for a field of the wrong type still echoes the fields
// that could be read, so a client matching replies by clientRequestId
// gets its answer; a field that is itself of the wrong type or too long is
// not echoed.
func TestDecodeEchoesOnTypeError(t *testing.T) {
	for _, tc := range []struct {
		frame                   string
		action, request, client string
	}{
		{`{"action":"subscribe","requestId":"r1","fromVersion":1.5,"clientRequestId":"x-10"}`, "subscribe", "r1", "x-10"},
		{`{"action":"subscribe","requestId":"r1","fromVersion":"3","clientRequestId":"x-11"}`, "subscribe", "r1", "x-11"},
		{`{"action":"status","requestId":5,"clientRequestId":"x-12"}`, "status", "", "x-12"},
		{`{"action":7,"clientRequestId":"x-13"}`, "", "", "x-13"},
		{`{"action":"status","requestId":5,"clientRequestId":"` + strings.Repeat("c", protocol.MaxIDLength+1) + `"}`, "status", "", ""},
	} {
		in, err := protocol.Decode([]byte(tc.frame))
		if err == nil || err.Code != protocol.CodeInvalidFrame {
			t.Fatalf("%s: %v, want invalid_frame", tc.frame, err)
		}
		f := protocol.ErrorFrame(&in, err)
		if f.Action != tc.action || f.RequestID != tc.request || f.ClientRequestID != tc.client {
			t.Errorf("%s: echoed action %q requestId %q clientRequestId %q, want %q %q %q",
				tc.frame, f.Action, f.RequestID, f.ClientRequestID, tc.action, tc.request, tc.client)
		}
	}
}
