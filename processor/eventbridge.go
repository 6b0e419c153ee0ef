package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/streamer/streamer/events"
)

// Ref is the reference in the detail of an event too large for the bus:
// {"ref":{"stream":"request/<id>","version":1}}, possibly beside the
// event's id, stream, version, type and time (which are not used).
type Ref struct {
	Stream  string `json:"stream"`
	Version int64  `json:"version"`
}

// Detail is a decoded EventBridge detail: exactly one of Event and Ref is
// set.
type Detail struct {
	Event *events.Event
	Ref   *Ref
}

// DecodeDetail parses an EventBridge detail: the JSON envelope of an
// event (events.Decode), or a reference to one. It never panics.
func DecodeDetail(detail []byte) (Detail, error) {
	trimmed := bytes.Trim(detail, " \t\r\n") // JSON whitespace only
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Detail{}, fmt.Errorf("%w: detail must be a JSON object", ErrInvalidDetail)
	}
	var probe struct {
		Ref *Ref `json:"ref"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return Detail{}, fmt.Errorf("%w: %v", ErrInvalidDetail, err)
	}
	if probe.Ref != nil {
		kind, _, err := events.ParseStream(probe.Ref.Stream)
		switch {
		case err != nil:
			return Detail{}, fmt.Errorf("%w: ref: %w", ErrInvalidDetail, err)
		case kind != events.KindRequest:
			return Detail{}, fmt.Errorf("%w: ref: %q is not a request stream", ErrInvalidDetail, probe.Ref.Stream)
		case probe.Ref.Version < 1:
			return Detail{}, fmt.Errorf("%w: ref: version must be ≥ 1, got %d", ErrInvalidDetail, probe.Ref.Version)
		}
		return Detail{Ref: probe.Ref}, nil
	}
	ev, err := events.Decode(trimmed)
	if err != nil {
		return Detail{}, fmt.Errorf("%w: %w", ErrInvalidDetail, err)
	}
	return Detail{Event: &ev}, nil
}

// HandleEventBridge is the AWS processor Lambda's entry, invoked by the
// EventBridge rule on request.submitted. The detail is the event's
// envelope, or a reference for an event too large for the bus (resolved
// from the store). Events of other types are ignored. The request is run
// synchronously (Run). It returns an error when the detail cannot be
// decoded (ErrInvalidDetail) or the request could not be brought to an
// end — a store failure or the invocation's deadline — so that Lambda's
// asynchronous invocation retries it and finally sends it to the
// on-failure destination. The worker name is WorkerName/<Lambda request
// ID> when ctx carries a Lambda context.
func (p *Processor) HandleEventBridge(ctx context.Context, ev awsevents.EventBridgeEvent) error {
	d, err := DecodeDetail(ev.Detail)
	if err != nil {
		p.log.ErrorContext(ctx, "processor: undecodable EventBridge detail", "eventId", ev.ID, "detailType", ev.DetailType, "err", err)
		return err
	}
	var stream, typ string
	if d.Ref != nil {
		page, err := p.store.Load(ctx, d.Ref.Stream, d.Ref.Version, 1)
		if err != nil {
			return fmt.Errorf("resolve ref %s@%d: %w", d.Ref.Stream, d.Ref.Version, err)
		}
		if len(page.Events) == 0 || page.Events[0].Version != d.Ref.Version {
			return fmt.Errorf("resolve ref %s@%d: %w", d.Ref.Stream, d.Ref.Version, events.ErrStreamNotFound)
		}
		stream, typ = d.Ref.Stream, page.Events[0].Type
	} else {
		stream, typ = d.Event.StreamID, d.Event.Type
	}
	if typ != events.RequestSubmitted {
		p.log.InfoContext(ctx, "processor: EventBridge event ignored", "eventId", ev.ID, "type", typ, "stream", stream)
		return nil
	}
	_, id, err := events.ParseStream(stream)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDetail, err)
	}
	worker := p.cfg.WorkerName
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		worker += "/" + lc.AwsRequestID
	}
	return p.run(ctx, id, worker)
}
