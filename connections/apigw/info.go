package apigw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	smithytime "github.com/aws/smithy-go/time"

	"github.com/streamer/streamer/connections"
)

// decodeInfo decodes a GetConnection answer as the SDK's deserializer
// does: the first JSON value of the body (an empty body or null is a
// connection nothing is known of), an object whose members are matched by
// their exact names, unknown members ignored, a missing or null member
// left zero, the last of duplicate members kept. The one leniency: a time
// may also be a number of epoch seconds (moto's), besides AWS's ISO 8601
// string.
func decodeInfo(body []byte) (connections.Info, error) {
	var info connections.Info
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil && err != io.EOF {
		return info, fmt.Errorf("decode response: %w", err)
	}
	var err error
	if info.ConnectedAt, err = decodeTime(doc["connectedAt"]); err != nil {
		return connections.Info{}, fmt.Errorf("decode response: connectedAt: %w", err)
	}
	if info.LastActiveAt, err = decodeTime(doc["lastActiveAt"]); err != nil {
		return connections.Info{}, fmt.Errorf("decode response: lastActiveAt: %w", err)
	}
	var identity map[string]json.RawMessage
	if raw := doc["identity"]; raw != nil {
		if err := json.Unmarshal(raw, &identity); err != nil {
			return connections.Info{}, fmt.Errorf("decode response: identity: %w", err)
		}
	}
	if info.SourceIP, err = decodeString(identity["sourceIp"]); err != nil {
		return connections.Info{}, fmt.Errorf("decode response: identity.sourceIp: %w", err)
	}
	if info.UserAgent, err = decodeString(identity["userAgent"]); err != nil {
		return connections.Info{}, fmt.Errorf("decode response: identity.userAgent: %w", err)
	}
	return info, nil
}

func decodeString(raw json.RawMessage) (string, error) {
	var s *string
	if raw != nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// maxEpochSeconds bounds epoch numbers to what a time.Unix nanosecond
// count holds (the years 1685–2255).
const maxEpochSeconds = 9e9

var errBadTime = errors.New("not an ISO 8601 date-time string nor a number of epoch seconds")

// decodeTime decodes a time of GetConnection's answer: an ISO 8601 string
// on AWS (the SDK's __timestampIso8601, parsed by smithy's ParseDateTime),
// or a number of seconds since the epoch, kept to the millisecond by
// smithy's ParseEpochSeconds. Absent or null is the zero time.
func decodeTime(raw json.RawMessage) (time.Time, error) {
	var v any
	if raw != nil {
		if err := json.Unmarshal(raw, &v); err != nil {
			return time.Time{}, err
		}
	}
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case string:
		t, err := smithytime.ParseDateTime(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %w", errBadTime, err)
		}
		return t, nil
	case float64:
		if math.Abs(v) > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("%w: %s is out of range", errBadTime, strconv.FormatFloat(v, 'g', -1, 64))
		}
		return smithytime.ParseEpochSeconds(v), nil
	}
	return time.Time{}, fmt.Errorf("%w: %.40s", errBadTime, raw)
}
