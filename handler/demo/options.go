package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/handler"
)

// Options tune the async demo handlers; zero values take the defaults.
type Options struct {
	Steps     int           // progress steps of generate_report (and fail); default 10
	StepDelay time.Duration // pause per step unless the payload sets stepDelay; default 1s
}

// Defaults of Options: 10 steps of 1 s make generate_report a ~10 s job.
const (
	DefaultSteps     = 10
	DefaultStepDelay = time.Second
)

// Limits of the payloads.
const (
	MaxRows      = 1_000_000
	DefaultRows  = 100
	MaxStepDelay = time.Minute
)

func (o Options) withDefaults() Options {
	if o.Steps <= 0 {
		o.Steps = DefaultSteps
	}
	if o.StepDelay <= 0 {
		o.StepDelay = DefaultStepDelay
	}
	return o
}

// Register registers echo, generate_report and fail on r.
func Register(r *handler.Router, opts Options) error {
	return errors.Join(
		r.Register(Echo{}),
		r.Register(NewGenerateReport(opts)),
		r.Register(NewFail(opts)),
	)
}

// decodeObject decodes a JSON object payload strictly into v: unknown
// fields and trailing data are refused. An absent payload (or null) leaves
// v untouched when optional is true.
func decodeObject(payload json.RawMessage, v any, optional bool) error {
	trimmed := bytes.Trim(payload, jsonSpace)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		if optional {
			return nil
		}
		return errors.New("payload is required and must be a JSON object")
	}
	if trimmed[0] != '{' {
		return errors.New("payload must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if dec.More() {
		return errors.New("payload: data after the JSON object")
	}
	return nil
}

// parseStepDelay parses the optional stepDelay field.
func parseStepDelay(s string) (time.Duration, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("stepDelay: %w", err)
	}
	if d < 0 || d > MaxStepDelay {
		return 0, false, fmt.Errorf("stepDelay must be within 0s..%s, got %s", MaxStepDelay, d)
	}
	return d, true, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// jsonSpace is JSON's insignificant whitespace (bytes.TrimSpace would also
// strip \v, \f and Unicode spaces, which JSON does not allow).
const jsonSpace = " \t\r\n"
