package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/handler"
)

// FailAction is the action of Fail.
const FailAction = "fail"

// FailCode is the code Fail ends its requests with.
const FailCode = "demo_failure"

// FailPayload is fail's payload; every field is optional.
type FailPayload struct {
	Message   string `json:"message,omitempty"`   // the failure message; default "demo failure"
	Retryable bool   `json:"retryable,omitempty"` // the failure's retryable flag
	StepDelay string `json:"stepDelay,omitempty"` // Go duration, 0s..1m; default Options.StepDelay
}

// Fail is the async demo handler that fails on purpose: it reports
// progress through half of Options.Steps, then fails with code
// demo_failure. It exists for end-to-end tests of failing handlers.
type Fail struct{ opts Options }

var _ handler.ProgressHandler = Fail{}

// NewFail returns the handler with opts (zero values take the defaults).
func NewFail(opts Options) Fail { return Fail{opts: opts.withDefaults()} }

func (Fail) Action() string { return FailAction }

// EstimatedDuration is Steps × StepDelay, like generate_report's.
func (f Fail) EstimatedDuration() time.Duration {
	return time.Duration(f.opts.Steps) * f.opts.StepDelay
}

// Validate checks the payload: absent or a JSON object of FailPayload's
// fields, the message at most 1,024 bytes.
func (f Fail) Validate(req *handler.Request) error {
	_, _, err := f.parse(req.Payload)
	return err
}

func (f Fail) parse(payload json.RawMessage) (FailPayload, time.Duration, error) {
	var p FailPayload
	if err := decodeObject(payload, &p, true); err != nil {
		return p, 0, err
	}
	if len(p.Message) > 1024 {
		return p, 0, fmt.Errorf("message is longer than 1024 bytes")
	}
	if p.Message == "" {
		p.Message = "demo failure"
	}
	delay := f.opts.StepDelay
	if d, ok, err := parseStepDelay(p.StepDelay); err != nil {
		return p, 0, err
	} else if ok {
		delay = d
	}
	return p, delay, nil
}

// Process always asks for async processing.
func (Fail) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, handler.ErrAsyncRequired
}

// ProcessWithProgress reports 0% and then one report per step up to 50%,
// and fails with code demo_failure.
func (f Fail) ProcessWithProgress(ctx context.Context, req *handler.Request, r handler.Reporter) error {
	p, delay, err := f.parse(req.Payload)
	if err != nil {
		return err
	}
	if err := r.Report(ctx, 0, "starting"); err != nil {
		return err
	}
	half := max(f.opts.Steps/2, 1)
	for i := 1; i <= half; i++ {
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		pct := float64(i) * 50 / float64(half)
		if err := r.Report(ctx, pct, fmt.Sprintf("step %d/%d", i, f.opts.Steps)); err != nil {
			return err
		}
	}
	return r.Fail(ctx, FailCode, p.Message, p.Retryable)
}
