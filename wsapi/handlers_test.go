package wsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/streamer/streamer/handler"
)

// echoHandler answers inline with its payload; it needs a "message".
type echoHandler struct{ calls *atomic.Int64 }

func (h *echoHandler) Action() string                   { return "echo" }
func (h *echoHandler) EstimatedDuration() time.Duration { return 0 }

func (h *echoHandler) Validate(req *handler.Request) error {
	var p struct {
		Message *string `json:"message"`
	}
	if len(req.Payload) == 0 || json.Unmarshal(req.Payload, &p) != nil || p.Message == nil {
		return errors.New("payload.message is required")
	}
	return nil
}

func (h *echoHandler) Process(_ context.Context, req *handler.Request) (*handler.Response, error) {
	h.calls.Add(1)
	return &handler.Response{Result: req.Payload}, nil
}

// failHandler fails inline.
type failHandler struct{}

func (failHandler) Action() string                   { return "explode" }
func (failHandler) EstimatedDuration() time.Duration { return 0 }
func (failHandler) Validate(*handler.Request) error  { return nil }
func (failHandler) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, errors.New("upstream exploded")
}

// sleepyHandler runs until its context ends.
type sleepyHandler struct{}

func (sleepyHandler) Action() string                   { return "sleepy" }
func (sleepyHandler) EstimatedDuration() time.Duration { return 0 }
func (sleepyHandler) Validate(*handler.Request) error  { return nil }
func (sleepyHandler) Process(ctx context.Context, _ *handler.Request) (*handler.Response, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("gave up waiting: %w", ctx.Err())
}

// stubbornHandler ignores its context: it returns a result only when
// release is closed (or after a minute).
type stubbornHandler struct{ release chan struct{} }

func (stubbornHandler) Action() string                   { return "stubborn" }
func (stubbornHandler) EstimatedDuration() time.Duration { return 0 }
func (stubbornHandler) Validate(*handler.Request) error  { return nil }
func (h stubbornHandler) Process(context.Context, *handler.Request) (*handler.Response, error) {
	select {
	case <-h.release:
	case <-time.After(time.Minute):
	}
	return &handler.Response{Result: json.RawMessage(`{"late":true}`)}, nil
}

// reportHandler is long work: async by its estimate.
type reportHandler struct{}

func (reportHandler) Action() string                   { return "report" }
func (reportHandler) EstimatedDuration() time.Duration { return time.Minute }
func (reportHandler) Validate(*handler.Request) error  { return nil }
func (reportHandler) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, handler.ErrAsyncRequired
}

func (reportHandler) ProcessWithProgress(ctx context.Context, req *handler.Request, r handler.Reporter) error {
	for pct := 25.0; pct <= 100; pct += 25 {
		if err := r.Report(ctx, pct, fmt.Sprintf("%v%% of %s", pct, req.ID)); err != nil {
			return err
		}
	}
	return r.Complete(ctx, json.RawMessage(`{"rows":4}`))
}

// lazyHandler has a short estimate but decides at run time that the work
// is long: Process returns ErrAsyncRequired.
type lazyHandler struct{}

func (lazyHandler) Action() string                   { return "lazy" }
func (lazyHandler) EstimatedDuration() time.Duration { return time.Millisecond }
func (lazyHandler) Validate(*handler.Request) error  { return nil }
func (lazyHandler) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, fmt.Errorf("too big for inline: %w", handler.ErrAsyncRequired)
}

func (lazyHandler) ProcessWithProgress(ctx context.Context, _ *handler.Request, r handler.Reporter) error {
	return r.Complete(ctx, json.RawMessage(`"done"`))
}

// panicHandler panics inline.
type panicHandler struct{}

func (panicHandler) Action() string                   { return "panicky" }
func (panicHandler) EstimatedDuration() time.Duration { return 0 }
func (panicHandler) Validate(*handler.Request) error  { return nil }
func (panicHandler) Process(context.Context, *handler.Request) (*handler.Response, error) {
	panic("nil map somewhere")
}
