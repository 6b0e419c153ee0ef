package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
)

func TestConnectRefused(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		gateway.RouteConnect: rec.route(func(_ context.Context, req request) (response, error) {
			switch req.QueryStringParameters["mode"] {
			case "deny":
				return response{StatusCode: 401, Headers: map[string]string{"X-Reason": "no token"}, Body: `{"message":"Unauthorized"}`}, nil
			case "error":
				return response{}, errors.New("connect exploded")
			case "zero":
				return response{}, nil
			}
			return response{StatusCode: 200}, nil
		}),
		gateway.RouteDisconnect: rec.route(nil),
	}})
	cases := []struct {
		mode   string
		status int
		body   string
	}{
		{"deny", 401, `{"message":"Unauthorized"}`},
		{"error", 500, `"message":"Internal server error"`},
		{"zero", 502, ""},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, resp, err := srv.DialContext(ctx, gatewaytest.DialOptions{Query: map[string][]string{"mode": {tc.mode}}})
			if err == nil {
				c.Conn.CloseNow()
				t.Fatal("the handshake succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("handshake failed with %v (response %v), want status %d", err, resp, tc.status)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), tc.body) {
				t.Fatalf("body %q, want it to contain %q", body, tc.body)
			}
			if tc.mode == "deny" && resp.Header.Get("X-Reason") != "no token" {
				t.Fatalf("the integration's headers were not passed on: %v", resp.Header)
			}
		})
	}
	ok := srv.Dial(t, gatewaytest.DialOptions{})
	if err := srv.Gateway.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.matching(routeOf(gateway.RouteConnect, ""))); got != len(cases)+1 {
		t.Fatalf("$connect called %d times, want %d", got, len(cases)+1)
	}
	discs := rec.matching(routeOf(gateway.RouteDisconnect, ""))
	if len(discs) != 1 || discs[0].RequestContext.ConnectionID != ok.ID() {
		t.Fatalf("$disconnect calls %d; want exactly one, for the accepted connection only", len(discs))
	}
}

func TestNotAWebSocketRequest(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{gateway.RouteConnect: rec.route(nil)}})
	resp, err := http.Get(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: status %d, want 426", resp.StatusCode)
	}
	if n := len(rec.matching(routeOf(gateway.RouteConnect, ""))); n != 0 {
		t.Fatalf("$connect called for a request that is not a handshake")
	}
	resp, err = http.Get(srv.HTTPURL + gatewaytest.Path + "/nowhere/else")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("x-amzn-ErrorType") != "ForbiddenException" {
		t.Fatalf("unknown path: status %d %q, want API Gateway's 403", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
}

// TestStageInURL: clients may connect to .../ws/{stage} as to API
// Gateway's wss://{api}.execute-api.{region}.amazonaws.com/{stage}.
func TestStageInURL(t *testing.T) {
	srv := start(t, gateway.Config{Stage: "prod", Routes: map[string]gateway.Integration{"echo": echo}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WebSocketURL+"/prod", nil)
	if err != nil {
		t.Fatalf("dial with the stage: %v", err)
	}
	defer ws.CloseNow()
	_, resp, err := websocket.Dial(ctx, srv.WebSocketURL+"/dev", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial with another stage: %v, want 403", err)
	}
}

// TestDisconnectReasons: every way a connection ends gives exactly one
// $disconnect with the status and reason of that way, and the client sees
// the matching close frame.
func TestDisconnectReasons(t *testing.T) {
	type ending struct {
		name       string
		cfg        gateway.Config
		opts       gatewaytest.Options
		dial       gatewaytest.DialOptions
		end        func(t *testing.T, srv *gatewaytest.Server, c *gatewaytest.Client)
		code       int
		reason     string
		clientSees websocket.StatusCode // -1: not checked (the client closed, or no close frame reaches it)
	}
	cases := []ending{
		{
			name: "client close", code: 4001, reason: "leaving now", clientSees: -1,
			end: func(t *testing.T, _ *gatewaytest.Server, c *gatewaytest.Client) {
				if err := c.Conn.Close(4001, "leaving now"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "client close without a code", code: 1005, reason: "", clientSees: -1,
			end: func(t *testing.T, _ *gatewaytest.Server, c *gatewaytest.Client) {
				c.Conn.Close(websocket.StatusNoStatusRcvd, "")
			},
		},
		{
			name: "client drops the connection", code: 1006, reason: gateway.DisconnectReasonAbnormal, clientSees: -1,
			end: func(t *testing.T, _ *gatewaytest.Server, c *gatewaytest.Client) { c.Conn.CloseNow() },
		},
		{
			name: "idle timeout", cfg: gateway.Config{IdleTimeout: 300 * time.Millisecond},
			code: 1001, reason: gateway.DisconnectReasonIdle, clientSees: websocket.StatusGoingAway,
			end: func(*testing.T, *gatewaytest.Server, *gatewaytest.Client) {},
		},
		{
			name: "maximum age", cfg: gateway.Config{MaxConnectionAge: 300 * time.Millisecond},
			code: 1001, reason: gateway.DisconnectReasonMaxAge, clientSees: websocket.StatusGoingAway,
			end: func(*testing.T, *gatewaytest.Server, *gatewaytest.Client) {},
		},
		{
			name: "DELETE @connections", code: 1000, reason: gateway.DisconnectReasonDeleted, clientSees: websocket.StatusNormalClosure,
			end: func(t *testing.T, srv *gatewaytest.Server, c *gatewaytest.Client) {
				if err := poster(srv).Disconnect(context.Background(), c.ID()); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "gateway close", code: 1001, reason: gateway.DisconnectReasonShutdown, clientSees: websocket.StatusGoingAway,
			end: func(t *testing.T, srv *gatewaytest.Server, c *gatewaytest.Client) {
				if err := srv.Gateway.Close(); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "write timeout", cfg: gateway.Config{PostTimeout: 200 * time.Millisecond},
			opts: gatewaytest.Options{SmallSendBuffers: true}, dial: gatewaytest.DialOptions{Stuck: true},
			code: 1006, reason: gateway.DisconnectReasonWriteTimeout, clientSees: -1,
			end: func(t *testing.T, srv *gatewaytest.Server, c *gatewaytest.Client) {
				err := poster(srv).Post(context.Background(), c.ID(), make([]byte, gateway.DefaultMaxMessageSize))
				if !errors.Is(err, connections.ErrGone) {
					t.Fatalf("a post that timed out: want ErrGone, got %v", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			tc.cfg.Routes = map[string]gateway.Integration{gateway.RouteDisconnect: rec.route(nil), "echo": echo}
			srv := start(t, tc.cfg, tc.opts)
			c := srv.Dial(t, tc.dial)
			tc.end(t, srv, c)
			got := rec.await(t, 1, routeOf(gateway.RouteDisconnect, c.ID()))[0].RequestContext
			if got.DisconnectStatusCode != int64(tc.code) || got.DisconnectReason == nil || *got.DisconnectReason != tc.reason {
				t.Fatalf("$disconnect with %d %v, want %d %q", got.DisconnectStatusCode, got.DisconnectReason, tc.code, tc.reason)
			}
			if !tc.dial.Stuck {
				err := closed(t, c)
				if tc.clientSees >= 0 && websocket.CloseStatus(err) != tc.clientSees {
					t.Fatalf("client saw %v, want close status %d", err, tc.clientSees)
				}
			}
			if err := srv.Gateway.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(rec.matching(routeOf(gateway.RouteDisconnect, c.ID()))); n != 1 {
				t.Fatalf("$disconnect called %d times, want once", n)
			}
			if n := srv.Gateway.Connections(); n != 0 {
				t.Fatalf("%d connections left", n)
			}
		})
	}
}

// TestIdleTimerResetByMessages: a client that keeps talking is not idle.
func TestIdleTimerResetByMessages(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{IdleTimeout: 1500 * time.Millisecond, Routes: map[string]gateway.Integration{
		gateway.RouteDisconnect: rec.route(nil), "echo": echo,
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	// Talk for well over one idle period, with gaps far below it; every
	// answer proves the socket is still open.
	for range 6 {
		send(t, c, `{"action":"echo"}`)
		next(t, c)
		time.Sleep(400 * time.Millisecond)
	}
	if n := len(rec.matching(routeOf(gateway.RouteDisconnect, c.ID()))); n != 0 {
		t.Fatalf("an active connection was closed as idle")
	}
	q := rec.await(t, 1, routeOf(gateway.RouteDisconnect, c.ID()))[0]
	if *q.RequestContext.DisconnectReason != gateway.DisconnectReasonIdle {
		t.Fatalf("reason %q once silent", *q.RequestContext.DisconnectReason)
	}
}

// TestDisconnectAfterMessages: $disconnect comes after every message the
// client sent before closing has been handled.
func TestDisconnectAfterMessages(t *testing.T) {
	var order []string
	done := make(chan struct{})
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		gateway.RouteDefault: func(_ context.Context, req request) (response, error) {
			time.Sleep(2 * time.Millisecond)
			order = append(order, req.Body)
			return response{StatusCode: 200}, nil
		},
		gateway.RouteDisconnect: func(context.Context, request) (response, error) {
			order = append(order, "$disconnect")
			close(done)
			return response{StatusCode: 200}, nil
		},
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	for _, m := range []string{"1", "2", "3", "4", "5"} {
		send(t, c, m)
	}
	c.Conn.CloseNow()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("no $disconnect")
	}
	if got := strings.Join(order, ","); got != "1,2,3,4,5,$disconnect" {
		t.Fatalf("order %s", got)
	}
}

func TestCloseRefusesNewConnections(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{gateway.RouteDisconnect: rec.route(nil)}})
	clients := make([]*gatewaytest.Client, 5)
	for i := range clients {
		clients[i] = srv.Dial(t, gatewaytest.DialOptions{})
	}
	if n := srv.Gateway.Connections(); n != 5 {
		t.Fatalf("Connections() = %d, want 5", n)
	}
	if err := srv.Gateway.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.matching(routeOf(gateway.RouteDisconnect, ""))); n != 5 {
		t.Fatalf("Close returned after %d of 5 $disconnect calls", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, resp, err := srv.DialContext(ctx, gatewaytest.DialOptions{})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v, want 503", err)
	}
	if err := poster(srv).Post(ctx, clients[0].ID(), []byte("x")); !errors.Is(err, connections.ErrGone) {
		t.Fatalf("post after Close: %v, want ErrGone", err)
	}
	if err := srv.Gateway.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
