package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/handler"
)

// fn is a test handler made of functions; it is a ProgressHandler only
// when progress is set (see asProgress).
type fn struct {
	action   string
	estimate time.Duration
	validate func(*handler.Request) error
	process  func(context.Context, *handler.Request) (*handler.Response, error)
}

func (h fn) Action() string                   { return h.action }
func (h fn) EstimatedDuration() time.Duration { return h.estimate }
func (h fn) Validate(req *handler.Request) error {
	if h.validate == nil {
		return nil
	}
	return h.validate(req)
}
func (h fn) Process(ctx context.Context, req *handler.Request) (*handler.Response, error) {
	return h.process(ctx, req)
}

type progressFn struct {
	fn
	progress func(context.Context, *handler.Request, handler.Reporter) error
}

func (h progressFn) ProcessWithProgress(ctx context.Context, req *handler.Request, r handler.Reporter) error {
	return h.progress(ctx, req, r)
}

// recorder is an in-memory Reporter for unit tests of the router's pure
// logic (the processor's real Reporter is tested against SQLite).
type recorder struct {
	mu       sync.Mutex
	reports  []float64
	result   json.RawMessage
	complete bool
	failCode string
}

func (r *recorder) Report(ctx context.Context, p float64, m string) error {
	return r.ReportWithMetadata(ctx, p, m, nil)
}
func (r *recorder) ReportWithMetadata(_ context.Context, p float64, _ string, _ map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, p)
	return nil
}
func (r *recorder) Complete(_ context.Context, res json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.result, r.complete = res, true
	return nil
}
func (r *recorder) Fail(_ context.Context, code, _ string, _ bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failCode = code
	return nil
}

func ok(action string) fn {
	return fn{action: action, process: func(context.Context, *handler.Request) (*handler.Response, error) {
		return &handler.Response{Result: json.RawMessage(`"ok"`)}, nil
	}}
}

func TestRegister(t *testing.T) {
	r := handler.NewRouter()
	tests := []struct {
		name string
		h    handler.Handler
		want error
	}{
		{"first echo", ok("echo"), nil},
		{"duplicate", ok("echo"), handler.ErrDuplicateAction},
		{"another", ok("generate_report"), nil},
		{"nil", nil, handler.ErrInvalidAction},
		{"empty", ok(""), handler.ErrInvalidAction},
		{"too long", ok(strings.Repeat("a", 65)), handler.ErrInvalidAction},
		{"route key", ok("$default"), handler.ErrInvalidAction},
		{"space", ok("do it"), handler.ErrInvalidAction},
		{"control", ok("a\x00"), handler.ErrInvalidAction},
	}
	for _, reserved := range []string{"subscribe", "unsubscribe", "cancel", "status", "ping"} {
		tests = append(tests, struct {
			name string
			h    handler.Handler
			want error
		}{"reserved " + reserved, ok(reserved), handler.ErrReservedAction})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Register(tc.h)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Register: %v, want %v", err, tc.want)
			}
		})
	}
	if got := r.Actions(); !slices.Equal(got, []string{"echo", "generate_report"}) {
		t.Fatalf("Actions %v", got)
	}
	if _, ok := r.Lookup("echo"); !ok {
		t.Fatal("Lookup echo")
	}
	if _, ok := r.Lookup("cancel"); ok {
		t.Fatal("Lookup of a reserved action")
	}
}

func TestAsync(t *testing.T) {
	long := progressFn{fn: fn{action: "long", estimate: 10 * time.Second}}
	short := progressFn{fn: fn{action: "short", estimate: time.Second}}
	longSync := fn{action: "long_sync", estimate: time.Hour}
	r := handler.NewRouter()
	if r.Threshold() != handler.DefaultAsyncThreshold {
		t.Fatalf("threshold %v", r.Threshold())
	}
	if !r.Async(long) || r.Async(short) || r.Async(longSync) {
		t.Fatal("default threshold: want only the long ProgressHandler async")
	}
	r = handler.NewRouter(handler.WithAsyncThreshold(500 * time.Millisecond))
	if !r.Async(short) || r.Async(longSync) {
		t.Fatal("500ms threshold: the short ProgressHandler must be async, a plain Handler never")
	}
	r = handler.NewRouter(handler.WithAsyncThreshold(10 * time.Second))
	if r.Async(long) {
		t.Fatal("an estimate equal to the threshold is not over it")
	}
}

func TestValidate(t *testing.T) {
	r := handler.NewRouter()
	errRows := errors.New("rows must be positive")
	must(t, r.Register(fn{action: "strict", validate: func(req *handler.Request) error {
		if string(req.Payload) != `{"rows":1}` {
			return errRows
		}
		return nil
	}}))
	must(t, r.Register(fn{action: "panicky", validate: func(*handler.Request) error { panic("bad validator") }}))

	if err := r.Validate(&handler.Request{Action: "strict", Payload: json.RawMessage(`{"rows":1}`)}); err != nil {
		t.Fatal(err)
	}
	err := r.Validate(&handler.Request{Action: "strict", Payload: json.RawMessage(`{}`)})
	var ve *handler.ValidationError
	if !errors.As(err, &ve) || ve.Action != "strict" || !errors.Is(err, errRows) || err.Error() != errRows.Error() {
		t.Fatalf("validation error %#v", err)
	}
	if err := r.Validate(&handler.Request{Action: "nope"}); !errors.Is(err, handler.ErrUnknownAction) {
		t.Fatalf("unknown: %v", err)
	}
	var pe *handler.PanicError
	if err := r.Validate(&handler.Request{Action: "panicky"}); !errors.As(err, &pe) || pe.Value != "bad validator" {
		t.Fatalf("panicking Validate: %v", err)
	}
}

func TestProcessSyncPath(t *testing.T) {
	r := handler.NewRouter()
	var seen auth.Principal
	must(t, r.Register(fn{action: "who", process: func(ctx context.Context, req *handler.Request) (*handler.Response, error) {
		seen, _ = auth.FromContext(ctx)
		return &handler.Response{Result: json.RawMessage(`"` + req.ID + `"`)}, nil
	}}))
	resp, err := r.Process(context.Background(), &handler.Request{ID: "r1", Action: "who", Principal: auth.Principal{User: "alice", Tenant: "acme"}})
	if err != nil || string(resp.Result) != `"r1"` {
		t.Fatalf("Process: %v, %v", resp, err)
	}
	if seen.User != "alice" || seen.Tenant != "acme" {
		t.Fatalf("principal on ctx %+v", seen)
	}
	if _, err := r.Process(context.Background(), &handler.Request{Action: "nope"}); !errors.Is(err, handler.ErrUnknownAction) {
		t.Fatalf("unknown: %v", err)
	}
}

func TestProcessWithProgressPaths(t *testing.T) {
	r := handler.NewRouter()
	must(t, r.Register(progressFn{fn: fn{action: "prog"}, progress: func(ctx context.Context, _ *handler.Request, rep handler.Reporter) error {
		if err := rep.Report(ctx, 50, "half"); err != nil {
			return err
		}
		return rep.Complete(ctx, json.RawMessage(`1`))
	}}))
	must(t, r.Register(fn{action: "inline", process: func(_ context.Context, req *handler.Request) (*handler.Response, error) {
		if req.Attempt == 0 {
			return nil, handler.ErrAsyncRequired // inline: ask for a worker
		}
		return &handler.Response{Result: json.RawMessage(`{"in":"worker"}`)}, nil
	}}))
	must(t, r.Register(fn{action: "always_async", process: func(context.Context, *handler.Request) (*handler.Response, error) {
		return nil, handler.ErrAsyncRequired
	}}))
	must(t, r.Register(fn{action: "nil_response", process: func(context.Context, *handler.Request) (*handler.Response, error) {
		return nil, nil
	}}))

	rec := &recorder{}
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "prog", Attempt: 1}, rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.reports, []float64{50}) || string(rec.result) != `1` {
		t.Fatalf("progress handler: %+v", rec)
	}

	if _, err := r.Process(context.Background(), &handler.Request{Action: "inline"}); !errors.Is(err, handler.ErrAsyncRequired) {
		t.Fatalf("inline: %v", err)
	}
	rec = &recorder{}
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "inline", Attempt: 1}, rec); err != nil {
		t.Fatal(err)
	}
	if !rec.complete || string(rec.result) != `{"in":"worker"}` {
		t.Fatalf("a plain handler on the async path must complete with its result: %+v", rec)
	}

	rec = &recorder{}
	err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "always_async", Attempt: 1}, rec)
	if !errors.Is(err, handler.ErrNotProgressHandler) || rec.complete {
		t.Fatalf("always async: %v, %+v", err, rec)
	}

	rec = &recorder{}
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "nil_response", Attempt: 1}, rec); err != nil || !rec.complete || rec.result != nil {
		t.Fatalf("nil response: %v, %+v", err, rec)
	}
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "prog"}, nil); err == nil {
		t.Fatal("a nil Reporter was accepted")
	}
}

// Middleware runs outermost-first, on both paths, and sees the call.
func TestMiddlewareOrder(t *testing.T) {
	var trace []string
	mark := func(name string) handler.Middleware {
		return func(next handler.Endpoint) handler.Endpoint {
			return func(ctx context.Context, c *handler.Call) (*handler.Response, error) {
				path := "sync"
				if c.Async() {
					path = "async"
				}
				trace = append(trace, name+">"+path)
				resp, err := next(ctx, c)
				trace = append(trace, name+"<")
				return resp, err
			}
		}
	}
	r := handler.NewRouter()
	r.Use(mark("a"), mark("b"))
	r.Use(mark("c"))
	must(t, r.Register(progressFn{
		fn: fn{action: "x", process: func(context.Context, *handler.Request) (*handler.Response, error) {
			trace = append(trace, "process")
			return &handler.Response{}, nil
		}},
		progress: func(context.Context, *handler.Request, handler.Reporter) error {
			trace = append(trace, "progress")
			return nil
		},
	}))
	if _, err := r.Process(context.Background(), &handler.Request{Action: "x"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"a>sync", "b>sync", "c>sync", "process", "c<", "b<", "a<"}
	if !slices.Equal(trace, want) {
		t.Fatalf("sync trace %v, want %v", trace, want)
	}
	trace = nil
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "x", Attempt: 1}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	want = []string{"a>async", "b>async", "c>async", "progress", "c<", "b<", "a<"}
	if !slices.Equal(trace, want) {
		t.Fatalf("async trace %v, want %v", trace, want)
	}
}

// A middleware can decorate the Reporter on the async path.
func TestMiddlewareWrapsReporter(t *testing.T) {
	r := handler.NewRouter()
	r.Use(func(next handler.Endpoint) handler.Endpoint {
		return func(ctx context.Context, c *handler.Call) (*handler.Response, error) {
			if c.Async() {
				c.Reporter = scaled{c.Reporter}
			}
			return next(ctx, c)
		}
	})
	must(t, r.Register(progressFn{fn: fn{action: "x"}, progress: func(ctx context.Context, _ *handler.Request, rep handler.Reporter) error {
		return rep.Report(ctx, 10, "")
	}}))
	rec := &recorder{}
	if err := r.ProcessWithProgress(context.Background(), &handler.Request{Action: "x"}, rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.reports, []float64{20}) {
		t.Fatalf("reports %v", rec.reports)
	}
}

type scaled struct{ handler.Reporter }

func (s scaled) Report(ctx context.Context, p float64, m string) error {
	return s.Reporter.Report(ctx, p*2, m)
}

func TestPanicRecovery(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	r := handler.NewRouter(handler.WithLogger(logger))
	var seenByMiddleware error
	r.Use(func(next handler.Endpoint) handler.Endpoint {
		return func(ctx context.Context, c *handler.Call) (*handler.Response, error) {
			resp, err := next(ctx, c)
			seenByMiddleware = err
			return resp, err
		}
	})
	errCause := errors.New("index out of range")
	must(t, r.Register(progressFn{
		fn: fn{action: "boom", process: func(context.Context, *handler.Request) (*handler.Response, error) {
			panic(errCause)
		}},
		progress: func(context.Context, *handler.Request, handler.Reporter) error { panic("async boom") },
	}))

	_, err := r.Process(context.Background(), &handler.Request{ID: "r1", Action: "boom"})
	var pe *handler.PanicError
	if !errors.As(err, &pe) || pe.Action != "boom" || pe.RequestID != "r1" || len(pe.Stack) == 0 || !errors.Is(err, errCause) {
		t.Fatalf("sync panic: %#v", err)
	}
	if !errors.As(seenByMiddleware, &pe) {
		t.Fatalf("the middleware saw %v, want a *PanicError", seenByMiddleware)
	}
	err = r.ProcessWithProgress(context.Background(), &handler.Request{ID: "r2", Action: "boom"}, &recorder{})
	if !errors.As(err, &pe) || pe.Value != "async boom" {
		t.Fatalf("async panic: %v", err)
	}
	if !strings.Contains(buf.String(), `"msg":"handler panicked"`) || !strings.Contains(buf.String(), `"requestId":"r2"`) {
		t.Fatalf("panic not logged: %s", buf.String())
	}

	// A panicking middleware is recovered too.
	r2 := handler.NewRouter(handler.WithLogger(logger))
	r2.Use(func(handler.Endpoint) handler.Endpoint {
		return func(context.Context, *handler.Call) (*handler.Response, error) { panic("middleware bug") }
	})
	must(t, r2.Register(ok("x")))
	if _, err := r2.Process(context.Background(), &handler.Request{Action: "x"}); !errors.As(err, &pe) || pe.Value != "middleware bug" {
		t.Fatalf("middleware panic: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
