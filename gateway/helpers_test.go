package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/streamer/streamer/connections/apigw"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
)

// wait bounds every wait of these tests; it only prevents hangs.
const wait = 30 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type request = awsevents.APIGatewayWebsocketProxyRequest
type response = awsevents.APIGatewayProxyResponse

// recorder keeps every request its integrations receive.
type recorder struct {
	mu      sync.Mutex
	reqs    []request
	changed chan struct{} // closed and replaced on every record
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) record(req request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// route records the request, then answers with fn (nil: 200, no body).
func (r *recorder) route(fn gateway.Integration) gateway.Integration {
	return func(ctx context.Context, req request) (response, error) {
		r.record(req)
		if fn == nil {
			return response{StatusCode: 200}, nil
		}
		return fn(ctx, req)
	}
}

// matching returns the recorded requests for which keep is true.
func (r *recorder) matching(keep func(request) bool) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if keep(q) {
			out = append(out, q)
		}
	}
	return out
}

// await waits until n requests match keep and returns them.
func (r *recorder) await(t *testing.T, n int, keep func(request) bool) []request {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if got := r.matching(keep); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited %v for %d matching requests; have %d", wait, n, len(r.matching(keep)))
		}
	}
}

func routeOf(key, connectionID string) func(request) bool {
	return func(q request) bool {
		return q.RequestContext.RouteKey == key && (connectionID == "" || q.RequestContext.ConnectionID == connectionID)
	}
}

// echo answers a message with its own body.
func echo(_ context.Context, req request) (response, error) {
	return response{StatusCode: 200, Body: req.Body}, nil
}

// start serves cfg (quiet unless it has a logger).
func start(t *testing.T, cfg gateway.Config, opts ...gatewaytest.Options) *gatewaytest.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	var o gatewaytest.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	return gatewaytest.Start(t, cfg, o)
}

// localConfig is what a dev server gives a poster: any static
// credentials, any region.
func localConfig() aws.Config {
	return aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// poster is streamer's production poster (signed HTTP, the SDK's wire
// format) pointed at srv.
func poster(srv *gatewaytest.Server) *apigw.Poster {
	return apigw.NewFromConfig(localConfig(), srv.Endpoint)
}

// sdkClient is the real apigatewaymanagementapi SDK client pointed at
// srv, for the tests whose point is compatibility with the SDK. Retries
// are off, so that each call is one request.
func sdkClient(srv *gatewaytest.Server) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(localConfig(), func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.Retryer = aws.NopRetryer{}
	})
}

// next returns the client's next message or fails.
func next(t *testing.T, c *gatewaytest.Client) gatewaytest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m, err := c.Next(ctx)
	if err != nil {
		t.Fatalf("connection %s: %v", c.ID(), err)
	}
	return m
}

func send(t *testing.T, c *gatewaytest.Client, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Send(ctx, []byte(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// closed waits for the socket to end and returns its close error.
func closed(t *testing.T, c *gatewaytest.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := c.Closed(ctx)
	if ctx.Err() != nil {
		t.Fatalf("connection %s did not end within %v", c.ID(), wait)
	}
	return err
}

func unmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}
