package wsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed/local"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/projections"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
	"github.com/streamer/streamer/protocol"
	"github.com/streamer/streamer/wsapi"
)

// Principals of the tests: alice owns requests; bob is a colleague without
// permissions; carol is a colleague with audit:read; mallory is of another
// tenant.
var (
	alice   = auth.Principal{User: "alice", Tenant: "acme"}
	bob     = auth.Principal{User: "bob", Tenant: "acme"}
	carol   = auth.Principal{User: "carol", Tenant: "acme", Permissions: []string{auth.PermAuditRead}}
	mallory = auth.Principal{User: "mallory", Tenant: "globex"}
)

// env is the WebSocket API over the real embedded runtime: the SQLite event
// log, the SQLite views, and the projector fed by the local tailer, wired
// as app/embedded wires them. The Poster records what would reach sockets.
type env struct {
	t        *testing.T
	store    *evsqlite.Store
	reader   *projections.Reader
	poster   *recordingPoster
	verifier *tokens
	router   *handler.Router
	api      *wsapi.API
	cfg      wsapi.Config
	logs     *syncBuffer
	echoes   atomic.Int64  // calls of the echo handler's Process
	release  chan struct{} // closed: the stubborn handler returns

	stopProjector func()
}

type envOptions struct {
	noProjector bool
	config      func(*wsapi.Config)
}

func newEnv(t *testing.T, opts ...func(*envOptions)) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	dir := t.TempDir()
	store, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	views, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { views.Close() })
	feedState, err := local.NewSQLiteState(ctx, store.DB())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := projections.Bootstrap(ctx, views); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, release: make(chan struct{}), store: store, reader: projections.NewReader(views), poster: newRecordingPoster(),
		verifier: &tokens{byToken: map[string]auth.Principal{}}, logs: &syncBuffer{}, stopProjector: func() {}}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, testLogWriter()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if !o.noProjector {
		projector := projections.NewProjector(store, views, projections.WithLogger(logger))
		tailer := local.NewTailer(store, feedState, feedState, projector,
			local.Config{PollInterval: 50 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, logger)
		tctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- tailer.Run(tctx) }()
		var once sync.Once
		e.stopProjector = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("tailer: %v", err)
				}
			})
		}
		t.Cleanup(e.stopProjector)
	}
	e.router = handler.NewRouter(handler.WithLogger(logger))
	for _, h := range []handler.Handler{&echoHandler{calls: &e.echoes}, failHandler{}, sleepyHandler{}, stubbornHandler{release: e.release}, reportHandler{}, lazyHandler{}, panicHandler{}} {
		if err := e.router.Register(h); err != nil {
			t.Fatal(err)
		}
	}
	e.cfg = wsapi.Config{Store: store, Reader: e.reader, Router: e.router, Verifier: e.verifier, Poster: e.poster,
		SubscribeWait: 20 * time.Second, Logger: logger}
	if o.config != nil {
		o.config(&e.cfg)
	}
	e.api = e.newAPI()
	return e
}

// newAPI builds another API over the same runtime: a fresh Lambda
// container, with empty caches.
func (e *env) newAPI() *wsapi.API {
	e.t.Helper()
	api, err := wsapi.New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return api
}

func withoutProjector(o *envOptions) { o.noProjector = true }

func withConfig(f func(*wsapi.Config)) func(*envOptions) {
	return func(o *envOptions) { o.config = f }
}

// testLogWriter shows the logs of failing tests when -v is given.
func testLogWriter() io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tokens is a Verifier over a fixed map of tokens.
type tokens struct {
	mu      sync.Mutex
	byToken map[string]auth.Principal
}

func (v *tokens) Verify(_ context.Context, token string) (auth.Principal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.byToken[token]
	if !ok {
		return auth.Principal{}, fmt.Errorf("%w: unknown token", auth.ErrInvalidToken)
	}
	return p, nil
}

func (v *tokens) add(token string, p auth.Principal) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byToken[token] = p
}

// recordingPoster is the @connections boundary: it keeps every message
// posted to each connection, and answers ErrGone for connections marked
// gone.
type recordingPoster struct {
	mu     sync.Mutex
	posted map[string][][]byte
	gone   map[string]bool
}

func newRecordingPoster() *recordingPoster {
	return &recordingPoster{posted: map[string][][]byte{}, gone: map[string]bool{}}
}

func (p *recordingPoster) Post(_ context.Context, connID string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone[connID] {
		return fmt.Errorf("post to %s: %w", connID, connections.ErrGone)
	}
	if len(data) > protocol.MaxMessageSize {
		return fmt.Errorf("post to %s: %d bytes: %w", connID, len(data), connections.ErrTooLarge)
	}
	p.posted[connID] = append(p.posted[connID], bytes.Clone(data))
	return nil
}

func (p *recordingPoster) Info(_ context.Context, connID string) (connections.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone[connID] {
		return connections.Info{}, connections.ErrGone
	}
	return connections.Info{}, nil
}

func (p *recordingPoster) Disconnect(_ context.Context, connID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone[connID] {
		return connections.ErrGone
	}
	p.gone[connID] = true
	return nil
}

func (p *recordingPoster) count(connID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.posted[connID])
}

// since decodes the frames posted to connID from index i on.
func (p *recordingPoster) since(t *testing.T, connID string, i int) []protocol.Outbound {
	t.Helper()
	p.mu.Lock()
	raw := p.posted[connID][i:]
	p.mu.Unlock()
	out := make([]protocol.Outbound, len(raw))
	for j, b := range raw {
		if err := json.Unmarshal(b, &out[j]); err != nil {
			t.Fatalf("frame %d to %s is not JSON: %v: %s", i+j, connID, err, b)
		}
	}
	return out
}

// Requests built from the captured API Gateway events in testdata.
func loadRequest(t *testing.T, name string) awsevents.APIGatewayWebsocketProxyRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var req awsevents.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func connectRequest(t *testing.T, connID string, headers, query map[string]string) awsevents.APIGatewayWebsocketProxyRequest {
	req := loadRequest(t, "connect.json")
	req.RequestContext.ConnectionID = connID
	for k, v := range headers {
		req.Headers[k] = v
	}
	req.QueryStringParameters = query
	return req
}

func messageRequest(t *testing.T, connID, body string) awsevents.APIGatewayWebsocketProxyRequest {
	req := loadRequest(t, "message.json")
	req.RequestContext.ConnectionID = connID
	req.Body = body
	return req
}

func disconnectRequest(t *testing.T, connID string, reason string) awsevents.APIGatewayWebsocketProxyRequest {
	req := loadRequest(t, "disconnect.json")
	req.RequestContext.ConnectionID = connID
	req.RequestContext.DisconnectReason = &reason
	return req
}

// connect opens connection connID for p with a bearer token.
func (e *env) connect(connID string, p auth.Principal) {
	e.t.Helper()
	token := "token-of-" + p.User
	e.verifier.add(token, p)
	resp, err := e.api.Connect(context.Background(), connectRequest(e.t, connID, map[string]string{"Authorization": "Bearer " + token}, nil))
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("connect %s: %d %s %v", connID, resp.StatusCode, resp.Body, err)
	}
}

// send delivers one message from connID and returns the frames it caused.
func (e *env) send(connID string, frame any) []protocol.Outbound {
	e.t.Helper()
	var body string
	switch f := frame.(type) {
	case string:
		body = f
	default:
		b, err := json.Marshal(f)
		if err != nil {
			e.t.Fatal(err)
		}
		body = string(b)
	}
	return e.sendWith(e.api, connID, body)
}

func (e *env) sendWith(api *wsapi.API, connID, body string) []protocol.Outbound {
	e.t.Helper()
	before := e.poster.count(connID)
	resp, err := api.Default(context.Background(), messageRequest(e.t, connID, body))
	if err != nil {
		e.t.Fatalf("Default: %v", err)
	}
	if resp.StatusCode != 200 || resp.Body != "" {
		e.t.Fatalf("Default answered %d %q; want 200 and an empty body", resp.StatusCode, resp.Body)
	}
	return e.poster.since(e.t, connID, before)
}

// load returns every event of stream (nil when it does not exist).
func (e *env) load(stream string) []events.Event {
	e.t.Helper()
	evs, err := events.LoadAll(context.Background(), e.store, stream, 1)
	if errors.Is(err, events.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// appendEvents appends to a request stream as the processor would.
func (e *env) appendEvents(requestID string, expected int64, evs ...events.Event) {
	e.t.Helper()
	if _, err := e.store.Append(context.Background(), events.RequestStream(requestID), expected, evs...); err != nil {
		e.t.Fatalf("append to %s: %v", requestID, err)
	}
}

// newRequest creates request id owned by p with n progress events after
// submitted and started (n+2 events), as the processor would write them.
func (e *env) newRequest(id string, p auth.Principal, n int) {
	e.t.Helper()
	meta := events.Meta{Actor: "system:processor", Tenant: p.Tenant, Source: "test"}
	evs := []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "report", Owner: p.User, Tenant: p.Tenant}, events.Meta{Actor: p.User, Tenant: p.Tenant}),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "w1"}, meta),
	}
	for i := range n {
		evs = append(evs, events.MustNew(events.RequestProgressed, events.Progress{Percentage: float64(10 * (i + 1)), Message: fmt.Sprintf("step %d", i+1)}, meta))
	}
	e.appendEvents(id, 0, evs...)
}

// types lists the types of evs.
func types(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// one asserts that frames holds exactly one frame and returns it.
func one(t *testing.T, frames []protocol.Outbound) protocol.Outbound {
	t.Helper()
	if len(frames) != 1 {
		t.Fatalf("got %d frames, want 1: %+v", len(frames), frames)
	}
	return frames[0]
}

// wantError asserts that frames is exactly one error frame of code.
func wantError(t *testing.T, frames []protocol.Outbound, code string) protocol.Outbound {
	t.Helper()
	f := one(t, frames)
	if f.Type != protocol.TypeError || f.Error == nil || f.Error.Code != code {
		t.Fatalf("got %+v (error %+v), want an error frame with code %s", f, f.Error, code)
	}
	if f.Error.Message == "" {
		t.Errorf("error frame %s has no message", code)
	}
	return f
}
