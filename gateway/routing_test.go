package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/protocol"
)

var awsID = regexp.MustCompile(`^[A-Za-z0-9]{15}=$`)

func TestRouteSelection(t *testing.T) {
	rec := newRecorder()
	tagged := func(tag string) gateway.Integration {
		return rec.route(func(_ context.Context, req request) (response, error) {
			return response{StatusCode: 200, Body: tag + ":" + req.Body}, nil
		})
	}
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		"echo":               tagged("echo"),
		"status":             tagged("status"),
		gateway.RouteDefault: tagged("default"),
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	cases := []struct {
		name, body, route string
	}{
		{"configured action", `{"action":"echo","payload":{"x":1}}`, "echo"},
		{"another action", `{"action":"status","requestId":"r1"}`, "status"},
		{"unknown action", `{"action":"nope"}`, "default"},
		{"invalid JSON", `{"action":"echo"`, "default"},
		{"not JSON at all", `hello`, "default"},
		{"JSON array", `[{"action":"echo"}]`, "default"},
		{"action not a string", `{"action":5}`, "default"},
		{"action null", `{"action":null}`, "default"},
		{"no action", `{"payload":"echo"}`, "default"},
		{"action matched case-sensitively", `{"Action":"echo"}`, "default"},
		{"nested action ignored", `{"payload":{"action":"echo"}}`, "default"},
		{"reserved route key", `{"action":"$connect"}`, "default"},
		{"whitespace around JSON", " \n{\"action\":\"echo\"}\t", "echo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send(t, c, tc.body)
			m := next(t, c)
			if want := tc.route + ":" + tc.body; string(m.Data) != want || m.Type != websocket.MessageText {
				t.Fatalf("client got %v %q, want text %q", m.Type, m.Data, want)
			}
		})
	}
	want := map[string]string{"echo": "echo", "status": "status", "default": gateway.RouteDefault}
	for _, q := range rec.matching(func(q request) bool { return q.RequestContext.EventType == gateway.EventMessage }) {
		tag := strings.SplitN(tagOf(cases, q.Body), ":", 2)[0]
		if q.RequestContext.RouteKey != want[tag] {
			t.Errorf("message %q: requestContext.routeKey %q, want %q", q.Body, q.RequestContext.RouteKey, want[tag])
		}
	}
}

func tagOf(cases []struct{ name, body, route string }, body string) string {
	for _, tc := range cases {
		if tc.body == body {
			return tc.route
		}
	}
	return ""
}

func TestNoRouteIsForbidden(t *testing.T) {
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{"echo": echo}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	send(t, c, `{"action":"other"}`)
	var got struct{ Message, ConnectionID, RequestID string }
	unmarshal(t, next(t, c).Data, &got)
	if got.Message != "Forbidden" || got.ConnectionID != c.ID() || !awsID.MatchString(got.RequestID) {
		t.Fatalf("got %+v, want API Gateway's Forbidden message for %s", got, c.ID())
	}
	send(t, c, `{"action":"echo"}`)
	if m := next(t, c); string(m.Data) != `{"action":"echo"}` {
		t.Fatalf("after a message without a route: got %q", m.Data)
	}
}

func TestBinaryMessages(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		"echo": echo,
		gateway.RouteDefault: rec.route(func(_ context.Context, req request) (response, error) {
			return response{StatusCode: 200, Body: req.Body, IsBase64Encoded: req.IsBase64Encoded}, nil
		}),
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	data := []byte(`{"action":"echo"}` + "\xff\x00")
	if err := c.Conn.Write(context.Background(), websocket.MessageBinary, data); err != nil {
		t.Fatal(err)
	}
	m := next(t, c)
	if m.Type != websocket.MessageBinary || string(m.Data) != string(data) {
		t.Fatalf("got %v %q, want the binary message back", m.Type, m.Data)
	}
	q := rec.await(t, 1, routeOf(gateway.RouteDefault, c.ID()))[0]
	if !q.IsBase64Encoded || q.Body != base64.StdEncoding.EncodeToString(data) {
		t.Fatalf("binary message reached $default as %q (base64 %v)", q.Body, q.IsBase64Encoded)
	}
}

func TestTwoWayRoutes(t *testing.T) {
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		"silent": func(context.Context, request) (response, error) { return response{StatusCode: 200}, nil },
		"answer": func(context.Context, request) (response, error) {
			return response{StatusCode: 200, Body: "answer"}, nil
		},
		"status": func(context.Context, request) (response, error) {
			return response{StatusCode: 400, Body: "status is ignored"}, nil
		},
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	send(t, c, `{"action":"silent"}`)
	send(t, c, `{"action":"answer"}`)
	send(t, c, `{"action":"status"}`)
	for _, want := range []string{"answer", "status is ignored"} {
		if m := next(t, c); string(m.Data) != want {
			t.Fatalf("got %q, want %q (an empty body sends nothing)", m.Data, want)
		}
	}
}

func TestIntegrationErrors(t *testing.T) {
	srv := start(t, gateway.Config{
		IntegrationTimeout: 200 * time.Millisecond,
		Routes: map[string]gateway.Integration{
			"fail":  func(context.Context, request) (response, error) { return response{}, errors.New("boom") },
			"panic": func(context.Context, request) (response, error) { panic("kaboom") },
			"slow": func(ctx context.Context, _ request) (response, error) {
				<-ctx.Done()
				return response{}, ctx.Err()
			},
			"badb64": func(context.Context, request) (response, error) {
				return response{StatusCode: 200, Body: "%%%", IsBase64Encoded: true}, nil
			},
			"echo": echo,
		},
	})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	cases := []struct{ action, message string }{
		{"fail", "Internal server error"},
		{"panic", "Internal server error"},
		{"slow", "Endpoint request timed out"},
		{"badb64", "Internal server error"},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			send(t, c, fmt.Sprintf(`{"action":%q}`, tc.action))
			raw := next(t, c).Data
			var got map[string]string
			unmarshal(t, raw, &got)
			if len(got) != 3 || got["message"] != tc.message || got["connectionId"] != c.ID() || !awsID.MatchString(got["requestId"]) {
				t.Fatalf("got %s, want {message: %q, connectionId: %s, requestId}", raw, tc.message, c.ID())
			}
			send(t, c, `{"action":"echo","after":true}`)
			if m := next(t, c); string(m.Data) != `{"action":"echo","after":true}` {
				t.Fatalf("connection unusable after the error: got %q", m.Data)
			}
		})
	}
}

// TestRequestShapes: the requests integrations receive have every field
// API Gateway's have (testdata holds captured AWS payloads), with values
// that describe this connection.
func TestRequestShapes(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Stage: "test", APIID: "abcdef1234", Routes: map[string]gateway.Integration{
		gateway.RouteConnect:    rec.route(nil),
		gateway.RouteDisconnect: rec.route(nil),
		gateway.RouteDefault:    rec.route(nil),
	}})
	before := time.Now()
	c := srv.Dial(t, gatewaytest.DialOptions{
		Header: http.Header{"User-Agent": {"shape-test/2"}, "X-Multi": {"one", "two"}, "Authorization": {"Bearer tok"}},
		Query:  url.Values{"token": {"abc"}, "tag": {"a", "b"}},
	})
	send(t, c, `{"action":"ping"}`)
	rec.await(t, 1, routeOf(gateway.RouteDefault, c.ID()))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	disc := rec.await(t, 1, routeOf(gateway.RouteDisconnect, c.ID()))[0]
	conn := rec.matching(routeOf(gateway.RouteConnect, c.ID()))[0]
	msg := rec.matching(routeOf(gateway.RouteDefault, c.ID()))[0]

	for _, tc := range []struct {
		file string
		got  request
	}{{"aws-connect.json", conn}, {"aws-message.json", msg}, {"aws-disconnect.json", disc}} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			unmarshal(t, raw, &want)
			b, err := json.Marshal(tc.got)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			unmarshal(t, b, &got)
			if missing := missingKeys("", want, got); len(missing) > 0 {
				t.Fatalf("fields AWS sends that are missing: %v\ngot %s", missing, b)
			}
		})
	}

	rc := conn.RequestContext
	checks := []struct {
		name      string
		got, want any
	}{
		{"connect routeKey", rc.RouteKey, "$connect"},
		{"connect eventType", rc.EventType, "CONNECT"},
		{"connectionId", rc.ConnectionID, c.ID()},
		{"stage", rc.Stage, "test"},
		{"apiId", rc.APIID, "abcdef1234"},
		{"domainName", rc.DomainName, strings.TrimPrefix(srv.HTTPURL, "http://")},
		{"messageDirection", rc.MessageDirection, "IN"},
		{"sourceIp", rc.Identity.SourceIP, "127.0.0.1"},
		{"userAgent", rc.Identity.UserAgent, "shape-test/2"},
		{"Host header", conn.Headers["Host"], strings.TrimPrefix(srv.HTTPURL, "http://")},
		{"X-Forwarded-For", conn.Headers["X-Forwarded-For"], "127.0.0.1"},
		{"X-Forwarded-Proto", conn.Headers["X-Forwarded-Proto"], "http"},
		{"Authorization", conn.Headers["Authorization"], "Bearer tok"},
		{"single-value header keeps the last", conn.Headers["X-Multi"], "two"},
		{"multi-value header", strings.Join(conn.MultiValueHeaders["X-Multi"], ","), "one,two"},
		{"query", conn.QueryStringParameters["token"], "abc"},
		{"single-value query keeps the last", conn.QueryStringParameters["tag"], "b"},
		{"multi-value query", strings.Join(conn.MultiValueQueryStringParameters["tag"], ","), "a,b"},
		{"message routeKey", msg.RequestContext.RouteKey, "$default"},
		{"message eventType", msg.RequestContext.EventType, "MESSAGE"},
		{"message body", msg.Body, `{"action":"ping"}`},
		{"message connectedAt", msg.RequestContext.ConnectedAt, rc.ConnectedAt},
		{"disconnect eventType", disc.RequestContext.EventType, "DISCONNECT"},
		{"disconnect status", disc.RequestContext.DisconnectStatusCode, int64(1000)},
		{"disconnect reason", *disc.RequestContext.DisconnectReason, "bye"},
		{"disconnect connectedAt", disc.RequestContext.ConnectedAt, rc.ConnectedAt},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	ids := map[string]bool{}
	for _, q := range []request{conn, msg, disc} {
		rc := q.RequestContext
		if !awsID.MatchString(rc.RequestID) || rc.ExtendedRequestID != rc.RequestID || ids[rc.RequestID] {
			t.Errorf("%s: requestId %q / extendedRequestId %q: want a fresh AWS-shaped ID", rc.RouteKey, rc.RequestID, rc.ExtendedRequestID)
		}
		ids[rc.RequestID] = true
		if rc.ConnectedAt < before.Add(-time.Second).UnixMilli() || rc.RequestTimeEpoch < rc.ConnectedAt {
			t.Errorf("%s: connectedAt %d, requestTimeEpoch %d: want the handshake time, then later", rc.RouteKey, rc.ConnectedAt, rc.RequestTimeEpoch)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.RequestTime); err != nil {
			t.Errorf("%s: requestTime %q: %v", rc.RouteKey, rc.RequestTime, err)
		}
	}
	if !awsID.MatchString(c.ID()) {
		t.Errorf("connection ID %q is not shaped like API Gateway's", c.ID())
	}
	if id, ok := msg.RequestContext.MessageID.(string); !ok || !awsID.MatchString(id) {
		t.Errorf("messageId %v: want an AWS-shaped ID", msg.RequestContext.MessageID)
	}
}

// missingKeys lists the key paths of want absent from got, descending into
// the top-level objects and requestContext.identity. Header names are
// compared ignoring case (net/http canonicalises them; HTTP says case does
// not matter).
func missingKeys(prefix string, want, got map[string]any) []string {
	var out []string
	for k, wv := range want {
		gv, ok := got[k]
		if !ok && strings.HasSuffix(strings.ToLower(prefix), "headers.") {
			for gk, v := range got {
				if strings.EqualFold(gk, k) {
					gv, ok = v, true
				}
			}
		}
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		wm, wok := wv.(map[string]any)
		gm, gok := gv.(map[string]any)
		if wok && gok && (prefix == "" || k == "identity") {
			out = append(out, missingKeys(prefix+k+".", wm, gm)...)
		}
	}
	sort.Strings(out)
	return out
}

func TestSubprotocolFromConnect(t *testing.T) {
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		gateway.RouteConnect: func(_ context.Context, req request) (response, error) {
			return response{StatusCode: 200, Headers: map[string]string{"Sec-WebSocket-Protocol": "streamer.v1"}}, nil
		},
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{Subprotocols: []string{"other", "streamer.v1"}})
	if got := c.Conn.Subprotocol(); got != "streamer.v1" {
		t.Fatalf("negotiated subprotocol %q, want the one $connect chose", got)
	}
}

func TestOversizedMessage(t *testing.T) {
	const limit = 1024
	rec := newRecorder()
	srv := start(t, gateway.Config{MaxMessageSize: limit, Routes: map[string]gateway.Integration{
		gateway.RouteDefault: rec.route(func(_ context.Context, req request) (response, error) {
			return response{StatusCode: 200, Body: fmt.Sprintf("len=%d", len(req.Body))}, nil
		}),
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	ctx := context.Background()

	tooBig := func(t *testing.T, size int64) {
		t.Helper()
		var f protocol.Outbound
		unmarshal(t, next(t, c).Data, &f)
		if f.Type != protocol.TypeError || f.Error == nil || f.Error.Code != protocol.CodeMessageTooLarge ||
			!strings.Contains(f.Error.Message, fmt.Sprint(size)) {
			t.Fatalf("got %+v, want a message_too_large error frame naming %d bytes", f, size)
		}
	}
	// One frame over the limit.
	send(t, c, strings.Repeat("a", limit+1))
	tooBig(t, limit+1)
	// A message of many frames, far over the limit.
	w, err := c.Conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if _, err := w.Write([]byte(strings.Repeat("b", 500))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tooBig(t, 40*500)
	// The connection carries on; exactly the limit is accepted.
	send(t, c, strings.Repeat("c", limit))
	if m := next(t, c); string(m.Data) != fmt.Sprintf("len=%d", limit) {
		t.Fatalf("a message of exactly the limit: got %q", m.Data)
	}
	if n := len(rec.matching(routeOf(gateway.RouteDefault, ""))); n != 1 {
		t.Fatalf("$default was called %d times; oversized messages must not reach it", n)
	}
}

// TestOrderPerConnection: one connection's messages reach the integration
// one at a time, in order; different connections are served concurrently.
func TestOrderPerConnection(t *testing.T) {
	const conns, msgs = 4, 60
	var (
		mu       sync.Mutex
		seen     = map[string][]int{}
		inFlight = map[string]int{}
		overlap  atomic.Bool
	)
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		gateway.RouteDefault: func(_ context.Context, req request) (response, error) {
			id := req.RequestContext.ConnectionID
			mu.Lock()
			inFlight[id]++
			if inFlight[id] > 1 {
				overlap.Store(true)
			}
			mu.Unlock()
			var n int
			fmt.Sscan(req.Body, &n)
			if n%7 == 0 {
				time.Sleep(time.Millisecond) // let later messages pile up behind this one
			}
			mu.Lock()
			seen[id] = append(seen[id], n)
			inFlight[id]--
			mu.Unlock()
			return response{StatusCode: 200}, nil
		},
		// "rendezvous" blocks until another connection's message ran:
		// it only returns if connections are served concurrently.
		"rendezvous": rendezvous(),
	}})
	clients := make([]*gatewaytest.Client, conns)
	for i := range clients {
		clients[i] = srv.Dial(t, gatewaytest.DialOptions{})
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range msgs {
				if err := c.Send(context.Background(), []byte(fmt.Sprint(n))); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		done := 0
		for _, c := range clients {
			if len(seen[c.ID()]) == msgs {
				done++
			}
		}
		mu.Unlock()
		if done == conns {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections had all messages handled after %v", done, conns, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if overlap.Load() {
		t.Fatal("two messages of one connection were handled at the same time")
	}
	for _, c := range clients {
		for i, n := range seen[c.ID()] {
			if n != i {
				t.Fatalf("connection %s: message %d handled in position %d: %v", c.ID(), n, i, seen[c.ID()])
			}
		}
	}
	a, b := clients[0], clients[1]
	send(t, a, `{"action":"rendezvous"}`)
	send(t, b, `{"action":"rendezvous"}`)
	for _, c := range []*gatewaytest.Client{a, b} {
		if m := next(t, c); string(m.Data) != "met" {
			t.Fatalf("rendezvous: got %q", m.Data)
		}
	}
}

// rendezvous returns an integration whose first call waits for the second.
func rendezvous() gateway.Integration {
	arrived := make(chan struct{})
	var once sync.Once
	var first atomic.Bool
	return func(ctx context.Context, _ request) (response, error) {
		if first.CompareAndSwap(false, true) {
			select {
			case <-arrived:
				return response{StatusCode: 200, Body: "met"}, nil
			case <-ctx.Done():
				return response{StatusCode: 200, Body: "alone"}, nil
			}
		}
		once.Do(func() { close(arrived) })
		return response{StatusCode: 200, Body: "met"}, nil
	}
}
