package eventbridge

import (
	"context"
	"errors"
	"time"

	"github.com/streamer/streamer/internal/awsrest"
)

// API is the one EventBridge call the Publisher makes. *Client implements
// it over HTTP; tests decorate it (fault injection) around a real Client.
type API interface {
	// PutEvents sends entries (at most ten) in one call and returns one
	// result per entry, in order: an EventID for an accepted entry, an
	// ErrorCode (and ErrorMessage) for one EventBridge did not accept. A
	// failed call returns an error instead; Retryable tells whether sending
	// the same entries again may succeed.
	PutEvents(ctx context.Context, entries []Entry) ([]ResultEntry, error)
}

// Entry is one PutEvents request entry (PutEventsRequestEntry). Empty
// members are left out of the request, as the SDK leaves out nil ones.
type Entry struct {
	Source     string
	DetailType string
	Detail     string
	// EventBusName is the bus's name or ARN; "" is the account's default
	// bus.
	EventBusName string
	// Time is the event's time; the zero time leaves it to EventBridge
	// (the time of the call).
	Time time.Time
	// Resources are ARNs the event concerns.
	Resources []string
	// TraceHeader is an X-Ray trace header.
	TraceHeader string
}

// ResultEntry is EventBridge's answer for one entry (PutEventsResultEntry).
type ResultEntry struct {
	EventID      string // set when the entry was accepted
	ErrorCode    string // set when it was not, e.g. "InternalFailure"
	ErrorMessage string
}

// Failed reports whether EventBridge did not accept the entry.
func (r ResultEntry) Failed() bool { return r.ErrorCode != "" }

// ErrBadResponse is matched (errors.Is) by the error of a PutEvents call
// whose 2xx response could not be decoded. The entries may have been
// accepted; sending them again is safe (subscribers dedupe by event ID).
var ErrBadResponse = errors.New("eventbridge: malformed PutEvents response")

// throttlingCodes are the error codes of a throttled call.
var throttlingCodes = map[string]bool{
	"ThrottlingException": true, "LimitExceededException": true,
	"RequestLimitExceeded": true, "TooManyRequestsException": true,
}

// Retryable reports whether a failed PutEvents call may succeed when sent
// again:
//   - an *awsrest.SendError (no response) is retryable;
//   - a cancelled or expired context is not;
//   - an *awsrest.APIError is retryable when it is a throttling error
//     (ThrottlingException, LimitExceededException, RequestLimitExceeded,
//     TooManyRequestsException, or HTTP 429) or a server fault (5xx), and
//     permanent otherwise (any other 4xx: validation, access denied,
//     unknown bus, bad signature...);
//   - anything else (a malformed response, ErrBadResponse) is retryable.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var send *awsrest.SendError
	if errors.As(err, &send) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var api *awsrest.APIError
	if errors.As(err, &api) {
		return throttlingCodes[api.Code] || api.StatusCode == 429 || api.ServerFault()
	}
	return true
}
