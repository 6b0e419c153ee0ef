package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Decode parses one client message. It refuses, with an *Error of a stable
// code, anything over MaxMessageSize, anything that is not a JSON object,
// fields of the wrong type, a missing action, IDs that are empty where
// required or too long, and a negative fromVersion. It never panics.
func Decode(data []byte) (Inbound, *Error) {
	var in Inbound
	if len(data) > MaxMessageSize {
		return in, Errorf(CodeMessageTooLarge, "message of %d bytes exceeds the %d byte limit", len(data), MaxMessageSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return in, Errorf(CodeInvalidJSON, "a message must be a JSON object")
	}
	if !utf8.Valid(data) {
		return in, Errorf(CodeInvalidJSON, "message is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return echoFields(trimmed), Errorf(CodeInvalidFrame, "field %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return Inbound{}, Errorf(CodeInvalidJSON, "invalid JSON: %v", err)
	}
	if dec.More() {
		return Inbound{}, Errorf(CodeInvalidJSON, "invalid JSON: data after the object")
	}
	if e := in.validate(); e != nil {
		return in, e
	}
	return in, nil
}

// echoFields reads, from a frame refused for a field of the wrong type,
// what its error frame echoes: action, requestId and clientRequestId, each
// only when it is a string within its length limit.
func echoFields(frame []byte) Inbound {
	var raw map[string]json.RawMessage
	if json.Unmarshal(frame, &raw) != nil {
		return Inbound{}
	}
	str := func(name string, max int) string {
		var s string
		if json.Unmarshal(raw[name], &s) != nil || len(s) > max {
			return ""
		}
		return s
	}
	return Inbound{
		Action:          str("action", MaxActionLength),
		RequestID:       str("requestId", MaxIDLength),
		ClientRequestID: str("clientRequestId", MaxIDLength),
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int64":
		return "an integer"
	}
	return "of another type"
}

func (in *Inbound) validate() *Error {
	switch {
	case in.Action == "":
		return Errorf(CodeInvalidFrame, "field \"action\" is required")
	case len(in.Action) > MaxActionLength:
		return Errorf(CodeInvalidFrame, "field \"action\" is longer than %d bytes", MaxActionLength)
	case len(in.ClientRequestID) > MaxIDLength:
		return Errorf(CodeInvalidFrame, "field \"clientRequestId\" is longer than %d bytes", MaxIDLength)
	case len(in.IdempotencyKey) > MaxIDLength:
		return Errorf(CodeInvalidFrame, "field \"idempotencyKey\" is longer than %d bytes", MaxIDLength)
	case len(in.RequestID) > MaxIDLength:
		return Errorf(CodeInvalidFrame, "field \"requestId\" is longer than %d bytes", MaxIDLength)
	case len(in.Reason) > MaxReasonLength:
		return Errorf(CodeInvalidFrame, "field \"reason\" is longer than %d bytes", MaxReasonLength)
	case in.FromVersion < 0:
		return Errorf(CodeInvalidFrame, "field \"fromVersion\" must be ≥ 0")
	}
	switch in.Action {
	case ActionSubscribe, ActionUnsubscribe, ActionCancel, ActionStatus:
		if in.RequestID == "" {
			return Errorf(CodeInvalidFrame, "action %q needs field \"requestId\"", in.Action)
		}
	}
	if in.Payload != nil && bytes.Equal(bytes.TrimSpace(in.Payload), []byte("null")) {
		in.Payload = nil
	}
	return nil
}
