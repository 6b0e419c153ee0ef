package wsapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

func TestConnect(t *testing.T) {
	e := newEnv(t, withoutProjector)
	e.verifier.add("good-token", carol)
	ctx := context.Background()

	t.Run("bearer header", func(t *testing.T) {
		resp, err := e.api.Connect(ctx, connectRequest(t, "c-header", map[string]string{"authorization": "Bearer good-token"}, nil))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %d %q %v, want 200", resp.StatusCode, resp.Body, err)
		}
		evs := e.load(events.ConnectionStream("c-header"))
		if len(evs) != 1 || evs[0].Type != events.ConnectionOpened {
			t.Fatalf("connection stream holds %v, want one connection.opened", types(evs))
		}
		p, err := events.PayloadAs[*events.Opened](evs[0])
		if err != nil {
			t.Fatal(err)
		}
		if p.User != "carol" || p.Tenant != "acme" || !slices.Equal(p.Permissions, carol.Permissions) {
			t.Errorf("opened = %+v, want carol of acme with %v", p, carol.Permissions)
		}
		if !strings.HasPrefix(p.Source, "websocket") || !strings.Contains(p.Source, "203.0.113.7") {
			t.Errorf("source = %q, want websocket and the client IP", p.Source)
		}
		if m := evs[0].Meta; m.Actor != "carol" || m.Tenant != "acme" || m.Source != "wsapi" || m.TraceID == "" {
			t.Errorf("meta = %+v, want actor carol, tenant acme, source wsapi and the trace ID", m)
		}
	})
	t.Run("query parameter", func(t *testing.T) {
		resp, err := e.api.Connect(ctx, connectRequest(t, "c-query", nil, map[string]string{"token": "good-token"}))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("got %d %q %v, want 200", resp.StatusCode, resp.Body, err)
		}
		if evs := e.load(events.ConnectionStream("c-query")); len(evs) != 1 {
			t.Fatalf("connection stream holds %v, want one event", types(evs))
		}
	})
	for _, tc := range []struct {
		name    string
		headers map[string]string
		query   map[string]string
	}{
		{"missing token", nil, nil},
		{"invalid token", map[string]string{"Authorization": "Bearer forged"}, nil},
		{"invalid query token", nil, map[string]string{"token": "forged"}},
		{"not a bearer token", map[string]string{"Authorization": "Basic Z29vZC10b2tlbg=="}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connID := "refused-" + strings.ReplaceAll(tc.name, " ", "-")
			resp, err := e.api.Connect(ctx, connectRequest(t, connID, tc.headers, tc.query))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 401 {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			var body struct{ Error protocol.Error }
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error.Code != protocol.CodeUnauthorized {
				t.Fatalf("body %q (%v), want a JSON error with code unauthorized", resp.Body, err)
			}
			if evs := e.load(events.ConnectionStream(connID)); evs != nil {
				t.Fatalf("refused connection appended %v", types(evs))
			}
		})
	}
	if strings.Contains(e.logs.String(), "good-token") || strings.Contains(e.logs.String(), "forged") {
		t.Errorf("a token reached the log:\n%s", e.logs.String())
	}
}

// The principal of a message comes from connection.opened in the log: a
// new container (empty cache) with a verifier that knows no token at all
// still knows who is calling, with their permissions.
func TestPrincipalFromLog(t *testing.T) {
	e := newEnv(t)
	e.connect("c-alice", alice)
	e.connect("c-carol", carol)
	f := one(t, e.send("c-alice", map[string]any{"action": "report", "payload": map[string]any{"month": "2026-10"}}))
	if f.Type != protocol.TypeQueued {
		t.Fatalf("got %+v, want queued", f)
	}
	e.verifier.byToken = map[string]auth.Principal{}
	fresh := e.newAPI()
	status := one(t, e.sendWith(fresh, "c-carol", `{"action":"status","requestId":"`+f.RequestID+`"}`))
	if status.Type != protocol.TypeStatus || status.RequestID != f.RequestID {
		t.Fatalf("carol (audit:read, from the log) got %+v, want the status", status)
	}
	pong := one(t, e.sendWith(fresh, "c-alice", `{"action":"ping","clientRequestId":"p1"}`))
	if pong.Type != protocol.TypePong || pong.ClientRequestID != "p1" || pong.Time == nil {
		t.Fatalf("got %+v, want a pong echoing p1 with the server time", pong)
	}
}

func TestUnknownConnection(t *testing.T) {
	e := newEnv(t, withoutProjector)
	for _, body := range []string{`{"action":"ping"}`, `{"action":"echo","payload":{"message":"x"}}`, `{"action":"status","requestId":"r"}`} {
		f := wantError(t, e.send("never-connected", body), protocol.CodeUnauthorized)
		if f.Action == "" {
			t.Errorf("error frame %+v does not echo the action", f)
		}
	}
	if n := e.echoes.Load(); n != 0 {
		t.Errorf("echo ran %d times for an unknown connection", n)
	}
}

func TestDisconnect(t *testing.T) {
	e := newEnv(t, withoutProjector)
	ctx := context.Background()
	e.connect("c1", alice)
	for range 2 {
		resp, err := e.api.Disconnect(ctx, disconnectRequest(t, "c1", "Going away"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("disconnect: %d %v", resp.StatusCode, err)
		}
	}
	evs := e.load(events.ConnectionStream("c1"))
	if !slices.Equal(types(evs), []string{events.ConnectionOpened, events.ConnectionClosed}) {
		t.Fatalf("stream = %v, want opened, closed once", types(evs))
	}
	if p, _ := events.PayloadAs[*events.Closed](evs[1]); p.Reason != events.CloseClient {
		t.Errorf("reason %q, want client", p.Reason)
	}

	t.Run("reasons", func(t *testing.T) {
		for i, tc := range []struct{ gateway, want string }{
			{"idle", events.CloseIdle},
			{"Going away: idle timeout", events.CloseIdle}, // the local gateway's reasons
			{"Going away: maximum connection duration", events.CloseExpired},
			{"expired", events.CloseExpired},
			{"Going away: gateway shutdown", events.CloseClient},
			{"Connection Closed Normally", events.CloseClient},
			{"Going away", events.CloseClient}, // API Gateway's, for any 1001
			{"", events.CloseClient},
		} {
			connID := "r" + string(rune('a'+i))
			e.connect(connID, alice)
			if _, err := e.api.Disconnect(ctx, disconnectRequest(t, connID, tc.gateway)); err != nil {
				t.Fatal(err)
			}
			evs := e.load(events.ConnectionStream(connID))
			if len(evs) != 2 {
				t.Fatalf("%q: stream = %v", tc.gateway, types(evs))
			}
			if p, _ := events.PayloadAs[*events.Closed](evs[1]); p.Reason != tc.want {
				t.Errorf("disconnectReason %q → %q, want %q", tc.gateway, p.Reason, tc.want)
			}
		}
	})
	t.Run("already gone", func(t *testing.T) {
		e.connect("c2", alice)
		gone := events.MustNew(events.ConnectionClosed, events.Closed{Reason: events.CloseGone}, events.Meta{Actor: "system:fanout"})
		if _, err := e.store.Append(ctx, events.ConnectionStream("c2"), 1, gone); err != nil {
			t.Fatal(err)
		}
		resp, err := e.api.Disconnect(ctx, disconnectRequest(t, "c2", ""))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("disconnect: %d %v", resp.StatusCode, err)
		}
		if evs := e.load(events.ConnectionStream("c2")); len(evs) != 2 {
			t.Fatalf("stream = %v, want opened and the fan-out's closed only", types(evs))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		resp, err := e.api.Disconnect(ctx, disconnectRequest(t, "nobody", ""))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("disconnect: %d %v", resp.StatusCode, err)
		}
		if evs := e.load(events.ConnectionStream("nobody")); evs != nil {
			t.Fatalf("appended %v for an unknown connection", types(evs))
		}
	})
}
