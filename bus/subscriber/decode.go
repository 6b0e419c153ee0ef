package subscriber

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/events"
)

// ErrNotStreamerEvent: the EventBridge event does not carry a streamer
// event (its detail is no envelope or reference, or contradicts the
// detail-type). It also matches events.ErrInvalidEvent when the envelope
// itself is malformed.
var ErrNotStreamerEvent = errors.New("not a streamer event")

// ErrRef is matched by every *RefError.
var ErrRef = errors.New("event published as a reference")

// RefError is what Decode returns for an event that was published as a
// reference because it was too large for the bus. Resolve loads it.
type RefError struct {
	ID      string // the event's ID (dedupe on it as on any event)
	Type    string
	Stream  string // where to load it from
	Version int64
}

func (e *RefError) Error() string {
	return fmt.Sprintf("event %s (%s) published as a reference to %s@%d: load it from the store or the audit API", e.ID, e.Type, e.Stream, e.Version)
}

func (e *RefError) Unwrap() error { return ErrRef }

// Decode returns the streamer event an EventBridge event carries, with its
// data upcast to the current schema of its type. For a reference it returns
// a *RefError (use Resolve to load the event). Note that the upcast data
// and the bus's re-serialisation of the detail mean the event's Hash cannot
// be re-verified from the bus; the audit API verifies chains.
func Decode(ev awsevents.EventBridgeEvent) (events.Event, error) {
	detail := bytes.TrimSpace(ev.Detail)
	if len(detail) == 0 || detail[0] != '{' {
		return events.Event{}, fmt.Errorf("%w: detail is not a JSON object", ErrNotStreamerEvent)
	}
	var probe struct {
		Ref *bus.Ref `json:"ref"`
	}
	if err := json.Unmarshal(detail, &probe); err != nil {
		return events.Event{}, fmt.Errorf("%w: detail: %v", ErrNotStreamerEvent, err)
	}
	if probe.Ref != nil {
		var rd bus.RefDetail
		if err := json.Unmarshal(detail, &rd); err != nil {
			return events.Event{}, fmt.Errorf("%w: reference detail: %v", ErrNotStreamerEvent, err)
		}
		if rd.ID == "" || rd.Ref.Stream == "" || rd.Ref.Version < 1 {
			return events.Event{}, fmt.Errorf("%w: reference detail without id, stream or version", ErrNotStreamerEvent)
		}
		if ev.DetailType != "" && rd.Type != ev.DetailType {
			return events.Event{}, fmt.Errorf("%w: detail-type %q but reference to a %q", ErrNotStreamerEvent, ev.DetailType, rd.Type)
		}
		return events.Event{}, &RefError{ID: rd.ID, Type: rd.Type, Stream: rd.Ref.Stream, Version: rd.Ref.Version}
	}
	e, err := events.Decode(detail)
	if err != nil {
		return events.Event{}, fmt.Errorf("%w: %w", ErrNotStreamerEvent, err)
	}
	if ev.DetailType != "" && e.Type != ev.DetailType {
		return events.Event{}, fmt.Errorf("%w: detail-type %q but envelope of type %q", ErrNotStreamerEvent, ev.DetailType, e.Type)
	}
	up, err := events.Upcast(e)
	if err != nil {
		return events.Event{}, fmt.Errorf("%w: %w", ErrNotStreamerEvent, err)
	}
	return up, nil
}

// Loader is what Resolve needs of an event store (events.Store has it).
type Loader interface {
	Load(ctx context.Context, stream string, fromVersion int64, limit int) (events.Page, error)
}

// Resolve is Decode that loads a referenced event from the store.
func Resolve(ctx context.Context, ev awsevents.EventBridgeEvent, store Loader) (events.Event, error) {
	e, err := Decode(ev)
	var ref *RefError
	if !errors.As(err, &ref) {
		return e, err
	}
	page, err := store.Load(ctx, ref.Stream, ref.Version, 1)
	if err != nil {
		return events.Event{}, fmt.Errorf("resolve %s@%d: %w", ref.Stream, ref.Version, err)
	}
	if len(page.Events) == 0 || page.Events[0].Version != ref.Version || page.Events[0].ID != ref.ID {
		return events.Event{}, fmt.Errorf("resolve %s@%d: %w: the store holds another event there", ref.Stream, ref.Version, ErrNotStreamerEvent)
	}
	up, err := events.Upcast(page.Events[0])
	if err != nil {
		return events.Event{}, fmt.Errorf("resolve %s@%d: %w", ref.Stream, ref.Version, err)
	}
	return up, nil
}

// Payload decodes ev and its typed payload T (a pointer to one of the
// events payload types, e.g. *events.Completed). A reference is a
// *RefError, as from Decode.
func Payload[T any](ev awsevents.EventBridgeEvent) (events.Event, T, error) {
	var zero T
	e, err := Decode(ev)
	if err != nil {
		return e, zero, err
	}
	p, err := events.PayloadAs[T](e)
	if err != nil {
		return e, zero, err
	}
	return e, p, nil
}

// Handler adapts fn into a Lambda handler for an EventBridge rule that
// delivers events of one type: it decodes each event and its payload T,
// resolving references with store when store is not nil (a reference is an
// error otherwise, so EventBridge retries it and then dead-letters it).
func Handler[T any](store Loader, fn func(ctx context.Context, e events.Event, payload T) error) func(context.Context, awsevents.EventBridgeEvent) error {
	return func(ctx context.Context, ev awsevents.EventBridgeEvent) error {
		var (
			e   events.Event
			err error
		)
		if store != nil {
			e, err = Resolve(ctx, ev, store)
		} else {
			e, err = Decode(ev)
		}
		if err != nil {
			return err
		}
		p, err := events.PayloadAs[T](e)
		if err != nil {
			return err
		}
		return fn(ctx, e, p)
	}
}
