package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/streamer/streamer/handler"
)

func TestLogging(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := handler.NewRouter(handler.WithLogger(slog.New(slog.DiscardHandler)))
	r.Use(handler.Logging(logger))
	errBad := errors.New("bad upstream")
	must(t, r.Register(progressFn{
		fn: fn{action: "x", process: func(_ context.Context, req *handler.Request) (*handler.Response, error) {
			switch string(req.Payload) {
			case `"fail"`:
				return nil, errBad
			case `"async"`:
				return nil, handler.ErrAsyncRequired
			case `"panic"`:
				panic("kaboom")
			}
			return &handler.Response{Result: json.RawMessage(`"secret result"`)}, nil
		}},
		progress: func(ctx context.Context, _ *handler.Request, _ handler.Reporter) error { return ctx.Err() },
	}))
	tests := []struct {
		name    string
		payload string
		async   bool
		ctx     func() context.Context
		outcome string
		level   string
	}{
		{"ok", `"secret payload"`, false, context.Background, handler.OutcomeOK, "INFO"},
		{"error", `"fail"`, false, context.Background, handler.OutcomeError, "WARN"},
		{"async required", `"async"`, false, context.Background, handler.OutcomeAsyncRequired, "INFO"},
		{"panic", `"panic"`, false, context.Background, handler.OutcomePanic, "ERROR"},
		{"cancelled", `{}`, true, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, handler.OutcomeCancelled, "WARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			req := &handler.Request{ID: "req-1", Action: "x", Attempt: 2, Payload: json.RawMessage(tc.payload)}
			if tc.async {
				_ = r.ProcessWithProgress(tc.ctx(), req, &recorder{})
			} else {
				_, _ = r.Process(tc.ctx(), req)
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("one JSON record expected: %q", buf.String())
			}
			path := "sync"
			if tc.async {
				path = "async"
			}
			if rec["msg"] != "handler call" || rec["requestId"] != "req-1" || rec["action"] != "x" || rec["attempt"] != float64(2) ||
				rec["path"] != path || rec["outcome"] != tc.outcome || rec["level"] != tc.level || rec["duration"] == nil {
				t.Fatalf("record %v", rec)
			}
			if (tc.outcome == handler.OutcomeOK) != (rec["err"] == nil) {
				t.Fatalf("err attribute: %v", rec)
			}
			if bytes.Contains(buf.Bytes(), []byte("secret")) {
				t.Fatalf("payload or result logged: %s", buf.String())
			}
		})
	}
}

// Recover placed explicitly inside Logging: the panic is logged with its
// stack by Recover and as outcome "panic" by Logging.
func TestRecoverMiddleware(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	ep := handler.Logging(logger)(handler.Recover(logger)(func(context.Context, *handler.Call) (*handler.Response, error) {
		panic("deep bug")
	}))
	_, err := ep(context.Background(), &handler.Call{Request: &handler.Request{ID: "r9", Action: "y"}})
	var pe *handler.PanicError
	if !errors.As(err, &pe) || pe.Value != "deep bug" || pe.Action != "y" {
		t.Fatalf("err %v", err)
	}
	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["msg"] != "handler panicked" || first["stack"] == "" || first["requestId"] != "r9" {
		t.Fatalf("recover record %v", first)
	}
	if second["outcome"] != handler.OutcomePanic {
		t.Fatalf("logging record %v", second)
	}
}

func TestOutcome(t *testing.T) {
	tests := map[error]string{
		nil:                      handler.OutcomeOK,
		handler.ErrAsyncRequired: handler.OutcomeAsyncRequired,
		context.Canceled:         handler.OutcomeCancelled,
		handler.ErrTimedOut:      handler.OutcomeCancelled,
		&handler.PanicError{}:    handler.OutcomePanic,
		errors.New("x"):          handler.OutcomeError,
	}
	for err, want := range tests {
		if got := handler.Outcome(err); got != want {
			t.Fatalf("Outcome(%v) = %s, want %s", err, got, want)
		}
	}
}
