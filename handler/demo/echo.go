package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/streamer/streamer/handler"
)

// EchoAction is the action of Echo.
const EchoAction = "echo"

// Echo is the sync demo handler: its result is its payload, which must be
// a JSON object.
type Echo struct{}

var _ handler.Handler = Echo{}

func (Echo) Action() string                   { return EchoAction }
func (Echo) EstimatedDuration() time.Duration { return 0 }

// Validate requires a JSON object payload.
func (Echo) Validate(req *handler.Request) error {
	trimmed := bytes.Trim(req.Payload, jsonSpace)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return errors.New("echo: payload must be a JSON object")
	}
	return nil
}

// Process returns the payload as the result.
func (Echo) Process(_ context.Context, req *handler.Request) (*handler.Response, error) {
	return &handler.Response{Result: bytes.Trim(req.Payload, jsonSpace)}, nil
}
