package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/internal/awsrest"
)

// until polls cond until it holds; it fails the test after wait.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStuckClientDoesNotDelayOthers: a post blocked on a client that never
// reads holds neither posts to another connection nor the stuck client's
// own read loop.
func TestStuckClientDoesNotDelayOthers(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{PostTimeout: time.Minute, Routes: map[string]gateway.Integration{
		"record": rec.route(nil),
	}}, gatewaytest.Options{SmallSendBuffers: true})
	stuck := srv.Dial(t, gatewaytest.DialOptions{Stuck: true})
	other := srv.Dial(t, gatewaytest.DialOptions{})
	p := poster(srv)
	ctx := context.Background()

	stuckDone := make(chan error, 1)
	go func() { stuckDone <- p.Post(ctx, stuck.ID(), make([]byte, gateway.DefaultMaxMessageSize)) }()
	// 128 KiB cannot fit in the few KiB of buffers between the gateway
	// and a client that does not read: once the write holds the socket,
	// it is blocked for good.
	until(t, "the post to the stuck client holds its socket", func() bool { return srv.Gateway.Writing(stuck.ID()) })

	for i := range 50 {
		msg := fmt.Sprintf("other-%d", i)
		if err := p.Post(ctx, other.ID(), []byte(msg)); err != nil {
			t.Fatalf("post to a healthy connection: %v", err)
		}
		if m := next(t, other); string(m.Data) != msg {
			t.Fatalf("got %q, want %q", m.Data, msg)
		}
	}
	// The stuck client can still talk: its read loop runs.
	if err := stuck.Send(ctx, []byte(`{"action":"record"}`)); err != nil {
		t.Fatal(err)
	}
	rec.await(t, 1, routeOf("record", stuck.ID()))

	select {
	case err := <-stuckDone:
		t.Fatalf("the post to the stuck client returned (%v) while it never read", err)
	default:
	}
	if !srv.Gateway.Writing(stuck.ID()) {
		t.Fatal("the write to the stuck client is no longer in progress")
	}
	stuck.Close() // drops the TCP connection
	select {
	case err := <-stuckDone:
		if !errors.Is(err, connections.ErrGone) {
			t.Fatalf("the blocked post after the client went away: %v, want ErrGone", err)
		}
	case <-time.After(wait):
		t.Fatal("the blocked post did not end when the client went away")
	}
}

func TestThrottle(t *testing.T) {
	srv := start(t, gateway.Config{PostTimeout: time.Minute, MaxPendingPosts: 2}, gatewaytest.Options{SmallSendBuffers: true})
	stuck := srv.Dial(t, gatewaytest.DialOptions{Stuck: true})
	p := poster(srv)
	ctx := context.Background()
	results := make(chan error, 2)
	go func() { results <- p.Post(ctx, stuck.ID(), make([]byte, gateway.DefaultMaxMessageSize)) }()
	until(t, "the first post holds the socket", func() bool { return srv.Gateway.Writing(stuck.ID()) })
	go func() { results <- p.Post(ctx, stuck.ID(), []byte("second")) }()
	until(t, "the second post waits", func() bool { return srv.Gateway.Pending(stuck.ID()) == 2 })

	err := p.Post(ctx, stuck.ID(), []byte("third"))
	var ae *awsrest.APIError
	if !errors.Is(err, connections.ErrThrottled) || !errors.As(err, &ae) || ae.Code != "LimitExceededException" {
		t.Fatalf("third post: %v, want ErrThrottled wrapping a LimitExceededException", err)
	}
	// The SDK reads the same answer as its typed error.
	_, err = sdkClient(srv).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(stuck.ID()), Data: []byte("fourth"),
	})
	var le *types.LimitExceededException
	if !errors.As(err, &le) {
		t.Fatalf("fourth post, through the SDK: %v, want *types.LimitExceededException", err)
	}
	stuck.Close()
	for range 2 {
		if err := <-results; !errors.Is(err, connections.ErrGone) {
			t.Fatalf("a waiting post after the client went away: %v, want ErrGone", err)
		}
	}
}

func TestManyConnections(t *testing.T) {
	const n = 200
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{
		"echo": echo, gateway.RouteDisconnect: rec.route(nil),
	}})
	p := poster(srv)
	clients := make([]*gatewaytest.Client, n)
	parallel(t, n, 16, func(i int) error {
		clients[i] = srv.Dial(t, gatewaytest.DialOptions{})
		return nil
	})
	if got := srv.Gateway.Connections(); got != n {
		t.Fatalf("Connections() = %d, want %d", got, n)
	}
	ids := map[string]bool{}
	for _, c := range clients {
		if ids[c.ID()] {
			t.Fatalf("connection ID %s given twice", c.ID())
		}
		ids[c.ID()] = true
	}
	ctx := context.Background()
	parallel(t, n, 32, func(i int) error {
		c := clients[i]
		msg := fmt.Sprintf(`{"action":"echo","i":%d}`, i)
		if err := c.Send(ctx, []byte(msg)); err != nil {
			return err
		}
		if err := p.Post(ctx, c.ID(), []byte("posted to "+c.ID())); err != nil {
			return err
		}
		// The echo and the post race each other; both must arrive.
		got := map[string]bool{}
		for range 2 {
			mctx, cancel := context.WithTimeout(ctx, wait)
			m, err := c.Next(mctx)
			cancel()
			if err != nil {
				return err
			}
			got[string(m.Data)] = true
		}
		if !got[msg] || !got["posted to "+c.ID()] {
			return fmt.Errorf("connection %d received %v", i, got)
		}
		return nil
	})
	parallel(t, n, 32, func(i int) error { return clients[i].Close() })
	rec.await(t, n, routeOf(gateway.RouteDisconnect, ""))
	if got := srv.Gateway.Connections(); got != 0 {
		t.Fatalf("Connections() = %d after every client left", got)
	}
	seen := map[string]int{}
	for _, q := range rec.matching(routeOf(gateway.RouteDisconnect, "")) {
		seen[q.RequestContext.ConnectionID]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Fatalf("connection %s got %d $disconnect calls", id, seen[id])
		}
	}
}

// parallel runs fn(0..n-1) on workers goroutines and fails on the first
// error.
func parallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	work := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs <- fn(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPostDuringConnect: like API Gateway, the connection cannot be posted
// to from its own $connect (410); it can as soon as the client has it.
func TestPostDuringConnect(t *testing.T) {
	var srv *gatewaytest.Server
	during := make(chan error, 1)
	srv = start(t, gateway.Config{Routes: map[string]gateway.Integration{
		gateway.RouteConnect: func(ctx context.Context, req request) (response, error) {
			during <- poster(srv).Post(ctx, req.RequestContext.ConnectionID, []byte("too early"))
			return response{StatusCode: 200}, nil
		},
	}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	if duringConnect := <-during; !errors.Is(duringConnect, connections.ErrGone) {
		t.Fatalf("post from $connect: %v, want ErrGone", duringConnect)
	}
	if err := poster(srv).Post(context.Background(), c.ID(), []byte("welcome")); err != nil {
		t.Fatalf("post right after the handshake: %v", err)
	}
	if m := next(t, c); string(m.Data) != "welcome" {
		t.Fatalf("got %q", m.Data)
	}
}

// TestManagementWire checks the raw HTTP answers of @connections, which
// non-Go SDKs depend on.
func TestManagementWire(t *testing.T) {
	srv := start(t, gateway.Config{MaxMessageSize: 64})
	c := srv.Dial(t, gatewaytest.DialOptions{Header: http.Header{"User-Agent": {"wire-test"}}})
	url := srv.Endpoint + "/@connections/" + c.ID()
	const sig = "AWS4-HMAC-SHA256 Credential=local/20240101/local/execute-api/aws4_request, SignedHeaders=host, Signature=00"
	do := func(method, url string, body []byte, signed bool) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if signed {
			req.Header.Set("Authorization", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	errorCases := []struct {
		name, method, url string
		body              []byte
		signed            bool
		status            int
		errorType         string
	}{
		{"unsigned", "POST", url, []byte("x"), false, 403, "ForbiddenException"},
		{"too large", "POST", url, make([]byte, 65), true, 413, "PayloadTooLargeException"},
		{"unknown connection", "POST", srv.Endpoint + "/@connections/Nope=", []byte("x"), true, 410, "GoneException"},
		{"unknown connection GET", "GET", srv.Endpoint + "/@connections/Nope=", nil, true, 410, "GoneException"},
		{"unsupported method", "PUT", url, nil, true, 403, "ForbiddenException"},
		{"wrong stage", "POST", srv.Endpoint + "/prod/@connections/" + c.ID(), []byte("x"), true, 403, "ForbiddenException"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(tc.method, tc.url, tc.body, tc.signed)
			var msg map[string]any
			unmarshal(t, b, &msg)
			if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.errorType ||
				resp.Header.Get("Content-Type") != "application/json" || msg["message"] == nil || resp.Header.Get("x-amzn-RequestId") == "" {
				t.Fatalf("%d %q %s (%v), want %d %s with a JSON message", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), b, resp.Header, tc.status, tc.errorType)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, b := do("GET", url, nil, true)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var info map[string]any
		unmarshal(t, b, &info)
		want := `{"connectedAt":"T","identity":{"sourceIp":"127.0.0.1","userAgent":"wire-test"},"lastActiveAt":"T"}`
		connectedAt, _ := info["connectedAt"].(string)
		lastActive, _ := info["lastActiveAt"].(string)
		info["connectedAt"], info["lastActiveAt"] = "T", "T"
		got, _ := json.Marshal(info)
		if string(got) != want {
			t.Fatalf("GET answered %s, want the shape %s", b, want)
		}
		for _, ts := range []string{connectedAt, lastActive} {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
				t.Fatalf("timestamp %q is not ISO 8601 UTC: %v", ts, err)
			}
		}
	})
	t.Run("POST then DELETE", func(t *testing.T) {
		if resp, b := do("POST", srv.Endpoint+"/dev/@connections/"+c.ID(), []byte("hi"), true); resp.StatusCode != 200 {
			t.Fatalf("post with the stage: %d %s", resp.StatusCode, b)
		}
		if m := next(t, c); string(m.Data) != "hi" {
			t.Fatalf("got %q", m.Data)
		}
		if resp, b := do("DELETE", url, nil, true); resp.StatusCode != 204 {
			t.Fatalf("delete: %d %s", resp.StatusCode, b)
		}
		if resp, _ := do("DELETE", url, nil, true); resp.StatusCode != 410 {
			t.Fatalf("second delete: %d, want 410", resp.StatusCode)
		}
		if resp, _ := do("GET", url, nil, true); resp.StatusCode != 410 {
			t.Fatalf("get after delete: %d, want 410", resp.StatusCode)
		}
	})
}

// TestLastActiveAt: a client message moves lastActiveAt; posts do not.
func TestLastActiveAt(t *testing.T) {
	rec := newRecorder()
	srv := start(t, gateway.Config{Routes: map[string]gateway.Integration{"record": rec.route(nil)}})
	c := srv.Dial(t, gatewaytest.DialOptions{})
	p := poster(srv)
	ctx := context.Background()
	first, err := p.Info(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !first.LastActiveAt.Equal(first.ConnectedAt) {
		t.Fatalf("a fresh connection: lastActiveAt %v, connectedAt %v", first.LastActiveAt, first.ConnectedAt)
	}
	if err := p.Post(ctx, c.ID(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	next(t, c)
	afterPost, err := p.Info(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !afterPost.LastActiveAt.Equal(first.LastActiveAt) {
		t.Fatalf("a post moved lastActiveAt")
	}
	// Wait out the millisecond resolution, then talk.
	until(t, "a millisecond passes", func() bool { return time.Since(first.ConnectedAt) > 2*time.Millisecond })
	send(t, c, `{"action":"record"}`)
	rec.await(t, 1, routeOf("record", c.ID()))
	later, err := p.Info(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !later.LastActiveAt.After(first.LastActiveAt) {
		t.Fatalf("lastActiveAt %v did not move after a client message (was %v)", later.LastActiveAt, first.LastActiveAt)
	}
}

// TestSDKClient: the real apigatewaymanagementapi SDK client works against
// the gateway as against API Gateway: it posts, reads GetConnection's
// answer (ISO 8601 times, identity), deletes, and maps each refusal to its
// typed error.
func TestSDKClient(t *testing.T) {
	srv := start(t, gateway.Config{MaxMessageSize: 64})
	before := time.Now().Truncate(time.Millisecond)
	c := srv.Dial(t, gatewaytest.DialOptions{Header: http.Header{"User-Agent": {"sdk-test"}}})
	sdk := sdkClient(srv)
	ctx := context.Background()
	id := aws.String(c.ID())

	if _, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: []byte("via the SDK")}); err != nil {
		t.Fatalf("post: %v", err)
	}
	if m := next(t, c); string(m.Data) != "via the SDK" {
		t.Fatalf("got %q", m.Data)
	}
	out, err := sdk.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: id})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	connectedAt := aws.ToTime(out.ConnectedAt)
	if connectedAt.Before(before) || connectedAt.After(time.Now()) || !aws.ToTime(out.LastActiveAt).Equal(connectedAt) ||
		out.Identity == nil || aws.ToString(out.Identity.SourceIp) != "127.0.0.1" || aws.ToString(out.Identity.UserAgent) != "sdk-test" {
		t.Fatalf("GetConnection read %v %v %+v", out.ConnectedAt, out.LastActiveAt, out.Identity)
	}

	_, err = sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: make([]byte, 65)})
	var tooBig *types.PayloadTooLargeException
	if !errors.As(err, &tooBig) {
		t.Fatalf("post over MaxMessageSize: %v, want *types.PayloadTooLargeException", err)
	}
	wrongStage := apigatewaymanagementapi.NewFromConfig(localConfig(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint + "/prod")
		o.Retryer = aws.NopRetryer{}
	})
	_, err = wrongStage.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: []byte("x")})
	var forbidden *types.ForbiddenException
	if !errors.As(err, &forbidden) {
		t.Fatalf("post to the wrong stage: %v, want *types.ForbiddenException", err)
	}

	if _, err := sdk.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: id}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	closed(t, c)
	var gone *types.GoneException
	if _, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: id, Data: []byte("x")}); !errors.As(err, &gone) {
		t.Fatalf("post after delete: %v, want *types.GoneException", err)
	}
	if _, err := sdk.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: id}); !errors.As(err, &gone) {
		t.Fatalf("get after delete: %v, want *types.GoneException", err)
	}
	if _, err := sdk.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: id}); !errors.As(err, &gone) {
		t.Fatalf("second delete: %v, want *types.GoneException", err)
	}
}
