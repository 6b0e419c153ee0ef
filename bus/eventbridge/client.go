package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/internal/awsrest"
)

// Wire constants of PutEvents (AWS JSON 1.1).
const (
	// Target is the X-Amz-Target header of PutEvents.
	Target = "AWSEvents.PutEvents"
	// ContentType is the Content-Type of AWS JSON 1.1 requests.
	ContentType = "application/x-amz-json-1.1"
	// SigningName is EventBridge's SigV4 service name.
	SigningName = "events"
)

// Client sends PutEvents as a SigV4-signed HTTP request, the way the SDK's
// eventbridge.Client does, without linking the SDK's service package. It
// never retries: the Publisher does. It is safe for concurrent use.
type Client struct {
	rest     *awsrest.Client
	endpoint string
}

var _ API = (*Client)(nil)

// NewClient returns a Client for cfg: cfg.Region and cfg.Credentials sign
// the requests, cfg.HTTPClient sends them (the SDK's default client when
// nil), and they go to cfg.BaseEndpoint when set (moto, tests), else to
// the region's endpoint (see Endpoint). It fails when cfg has no region or
// credentials, or an unusable endpoint.
func NewClient(cfg aws.Config) (*Client, error) {
	var errs []error
	rest, err := awsrest.New(cfg, SigningName)
	if err != nil {
		errs = append(errs, err)
	}
	var endpoint string
	if base := aws.ToString(cfg.BaseEndpoint); base != "" {
		endpoint, err = baseEndpoint(base)
	} else if cfg.Region != "" {
		endpoint, err = Endpoint(cfg.Region)
	}
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("eventbridge: %w", err)
	}
	return &Client{rest: rest, endpoint: endpoint}, nil
}

// Endpoint is the URL the Client posts to.
func (c *Client) Endpoint() string { return c.endpoint }

// PutEvents sends entries in one signed POST and decodes the answer. An
// error response is returned as an *awsrest.APIError, a request that got no
// response as an *awsrest.SendError (see Retryable), a 2xx answer that does
// not decode as an error matching ErrBadResponse. No entries: nothing is
// sent.
func (c *Client) PutEvents(ctx context.Context, entries []Entry) ([]ResultEntry, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	body, err := encodeRequest(entries)
	if err != nil {
		return nil, err
	}
	header := http.Header{"X-Amz-Target": {Target}, "Content-Type": {ContentType}}
	resp, err := c.rest.Do(ctx, http.MethodPost, c.endpoint, header, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, awsrest.ErrorOf(resp)
	}
	return decodeResponse(resp.Body)
}

// wireEntry is PutEventsRequestEntry as the SDK serialises it: members in
// its order, nil (here: empty) members left out, Time in epoch seconds.
type wireEntry struct {
	Detail       string   `json:"Detail,omitempty"`
	DetailType   string   `json:"DetailType,omitempty"`
	EventBusName string   `json:"EventBusName,omitempty"`
	Resources    []string `json:"Resources,omitempty"`
	Source       string   `json:"Source,omitempty"`
	Time         *float64 `json:"Time,omitempty"`
	TraceHeader  string   `json:"TraceHeader,omitempty"`
}

type wireRequest struct {
	Entries []wireEntry `json:"Entries"`
}

// encodeRequest is the JSON body of a PutEvents request with entries, as
// the SDK's AWS JSON 1.1 serialiser writes it.
func encodeRequest(entries []Entry) ([]byte, error) {
	req := wireRequest{Entries: make([]wireEntry, len(entries))}
	for i, e := range entries {
		w := wireEntry{
			Detail: e.Detail, DetailType: e.DetailType, EventBusName: e.EventBusName,
			Resources: e.Resources, Source: e.Source, TraceHeader: e.TraceHeader,
		}
		if !e.Time.IsZero() {
			s := epochSeconds(e.Time)
			w.Time = &s
		}
		req.Entries[i] = w
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the SDK does not escape <, > and &
	if err := enc.Encode(req); err != nil {
		return nil, fmt.Errorf("eventbridge: encode put events request: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// epochSeconds is t as the SDK writes a timestamp in AWS JSON: seconds
// since the epoch with millisecond precision, the milliseconds truncated
// toward zero (smithy-go's FormatEpochSeconds, which computes them from
// UnixNano; this does not overflow outside 1678–2262).
func epochSeconds(t time.Time) float64 {
	ms := t.Unix()*1000 + int64(t.Nanosecond())/int64(time.Millisecond)
	if ms < 0 && t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++ // toward zero, as integer division of a negative UnixNano
	}
	return float64(ms) / 1e3
}

// decodeResponse decodes the body of a 2xx PutEvents response into one
// result per entry, in order, as the SDK's deserialiser does: members
// matched by exact name (EventId, ErrorCode, ErrorMessage; Entries,
// FailedEntryCount), unknown members ignored, null or missing ones empty,
// and an empty body without entries. An error matches ErrBadResponse.
func decodeResponse(body []byte) ([]ResultEntry, error) {
	if len(body) == 0 {
		return nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	var count *int32 // not used, but it must be a number, as for the SDK
	if err := member(top, "FailedEntryCount", &count); err != nil {
		return nil, err
	}
	var entries []map[string]json.RawMessage
	if err := member(top, "Entries", &entries); err != nil || entries == nil {
		return nil, err
	}
	out := make([]ResultEntry, len(entries))
	for i, e := range entries {
		for _, m := range []struct {
			name string
			dst  *string
		}{{"EventId", &out[i].EventID}, {"ErrorCode", &out[i].ErrorCode}, {"ErrorMessage", &out[i].ErrorMessage}} {
			var v *string
			if err := member(e, m.name, &v); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			if v != nil {
				*m.dst = *v
			}
		}
	}
	return out, nil
}

// member decodes obj[name], when present, into dst.
func member(obj map[string]json.RawMessage, name string, dst any) error {
	raw, ok := obj[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadResponse, name, err)
	}
	return nil
}
