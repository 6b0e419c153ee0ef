package protocol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

func TestOutboundJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		f    protocol.Outbound
		want string
	}{
		{"queued", protocol.Outbound{Type: protocol.TypeQueued, Action: "report", RequestID: "r1", Version: 1, ClientRequestID: "c", Duplicate: true},
			`{"type":"queued","action":"report","requestId":"r1","version":1,"clientRequestId":"c","duplicate":true}`},
		{"response", protocol.Outbound{Type: protocol.TypeResponse, RequestID: "r1", Version: 3, Status: "completed", Result: json.RawMessage(`{"a":1}`)},
			`{"type":"response","requestId":"r1","version":3,"status":"completed","result":{"a":1}}`},
		{"event", protocol.Outbound{Type: protocol.TypeEvent, RequestID: "r1", Version: 4, Event: "request.progress", Time: &at, Data: json.RawMessage(`{"percentage":40}`)},
			`{"type":"event","requestId":"r1","version":4,"event":"request.progress","time":"2026-11-28T03:00:00Z","data":{"percentage":40}}`},
		{"error", protocol.ErrorFrame(&protocol.Inbound{Action: "cancel", RequestID: "r1"}, &protocol.Error{Code: protocol.CodeTimeout, Message: "m", Retryable: true}),
			`{"type":"error","action":"cancel","requestId":"r1","error":{"code":"timeout","message":"m","retryable":true}}`},
		{"error of an undecodable frame", protocol.ErrorFrame(nil, protocol.Errorf(protocol.CodeInvalidJSON, "bad %d", 1)),
			`{"type":"error","error":{"code":"invalid_json","message":"bad 1"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.f.Marshal()); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMarshalBounded(t *testing.T) {
	small := protocol.Outbound{Type: protocol.TypeEvent, RequestID: "r", Version: 2, Data: json.RawMessage(`{"percentage":1}`)}
	if got, want := string(small.MarshalBounded()), string(small.Marshal()); got != want {
		t.Errorf("small frame changed: %s", got)
	}
	blob := `"` + strings.Repeat("x", protocol.MaxMessageSize) + `"`
	for _, tc := range []struct {
		name  string
		f     protocol.Outbound
		check func(t *testing.T, f protocol.Outbound)
	}{
		{"event", protocol.Outbound{Type: protocol.TypeEvent, RequestID: "r", Version: 9, Event: events.RequestCompleted, Data: json.RawMessage(`{"result":` + blob + `}`)},
			func(t *testing.T, f protocol.Outbound) {
				if f.Data != nil || f.Event != events.RequestCompleted || f.Version != 9 {
					t.Errorf("got %+v", f)
				}
			}},
		{"response", protocol.Outbound{Type: protocol.TypeResponse, RequestID: "r", Version: 3, Status: "completed", Result: json.RawMessage(blob)},
			func(t *testing.T, f protocol.Outbound) {
				if f.Result != nil || f.Status != "completed" {
					t.Errorf("got %+v", f)
				}
			}},
		{"status", protocol.Outbound{Type: protocol.TypeStatus, RequestID: "r", Version: 3, Request: json.RawMessage(`{"requestId":"r","status":"completed","result":` + blob + `}`)},
			func(t *testing.T, f protocol.Outbound) {
				var view map[string]any
				if err := json.Unmarshal(f.Request, &view); err != nil || view["status"] != "completed" || view["result"] != nil {
					t.Errorf("request %s (%v), want the view without its result", f.Request, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.f.MarshalBounded()
			if len(b) > protocol.MaxMessageSize {
				t.Fatalf("%d bytes, over the limit", len(b))
			}
			var got protocol.Outbound
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Truncated || got.RequestID != "r" {
				t.Errorf("got %+v, want truncated naming r", got)
			}
			tc.check(t, got)
		})
	}
}

func TestEventFrame(t *testing.T) {
	at := time.Date(2026, 11, 28, 3, 0, 0, 123000, time.UTC)
	e := events.Event{StreamID: events.RequestStream("r1"), Version: 5, Type: events.RequestProgressed, SchemaVersion: 1,
		Time: at, Data: json.RawMessage(`{"percent":40,"status":"aggregating"}`)}
	f, err := protocol.EventFrame(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"event","requestId":"r1","version":5,"event":"request.progress","time":"2026-11-28T03:00:00.000123Z","data":{"percentage":40,"message":"aggregating"}}`
	if got := string(f.Marshal()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	conn := events.Event{StreamID: events.ConnectionStream("c"), Version: 1, Type: events.ConnectionOpened, SchemaVersion: 1, Time: at, Data: json.RawMessage(`{"user":"u"}`)}
	if _, err := protocol.EventFrame(conn); !errors.Is(err, events.ErrInvalidEvent) {
		t.Errorf("connection event: %v, want ErrInvalidEvent", err)
	}
	bad := e
	bad.Data = json.RawMessage(`{"percent":"lots"}`)
	if _, err := protocol.EventFrame(bad); !errors.Is(err, events.ErrInvalidEvent) {
		t.Errorf("bad payload: %v, want ErrInvalidEvent", err)
	}
}
