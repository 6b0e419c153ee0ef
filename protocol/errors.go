package protocol

import "fmt"

// Stable error codes of error frames (and of failed responses). Clients
// branch on these; the message is for humans and may change.
const (
	CodeInvalidJSON          = "invalid_json"           // the message is not a JSON object
	CodeInvalidFrame         = "invalid_frame"          // a field is missing, of the wrong type or out of range
	CodeMessageTooLarge      = "message_too_large"      // over MaxMessageSize
	CodeUnknownAction        = "unknown_action"         // no handler for the action
	CodeValidationFailed     = "validation_failed"      // the handler's Validate refused the payload
	CodeNotFound             = "not_found"              // no such request (or one of another tenant)
	CodeForbidden            = "forbidden"              // the caller may not do this to that request
	CodeInvalidTransition    = "invalid_transition"     // e.g. cancel of a finished request
	CodeTooManySubscriptions = "too_many_subscriptions" // a connection follows at most 48 requests
	CodeUnauthorized         = "unauthorized"           // no valid token (HTTP API; $connect refuses the handshake)
	CodeHandlerError         = "handler_error"          // a handler failed (failed responses)
	CodeTimeout              = "timeout"                // the server gave up waiting (retry)
	CodeUnavailable          = "unavailable"            // a dependency is down or throttled (retry)
	CodeInternal             = "internal_error"         // a bug; the log has details
)

// Error is the error of an error frame or a failed response.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
