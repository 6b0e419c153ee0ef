package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/projections"
)

// Page sizes.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 1000
	DefaultListLimit   = projections.DefaultListLimit
	MaxListLimit       = projections.MaxListLimit
)

// maxFutureSkew is how far past the server's clock an asOf may be: a
// client that asks for "now" with a clock slightly ahead is not refused.
const maxFutureSkew = time.Minute

// statuses are the values of the status filter.
var statuses = []string{
	projections.StatusQueued, projections.StatusRunning, projections.StatusCompleted,
	projections.StatusFailed, projections.StatusCancelled, projections.StatusTimedOut,
}

// query parses the query string, refusing parameters other than allowed
// and parameters given twice. A parameter with an empty value ("status=")
// counts as absent, so URL templates with unused parameters work.
func query(r *http.Request, allowed ...string) (map[string]string, *apiError) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("malformed query string: %v", err)
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		vs = slices.DeleteFunc(vs, func(v string) bool { return v == "" })
		if len(vs) == 0 {
			continue
		}
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return nil, badParam("unknown query parameter %q: this endpoint takes none", k)
			}
			return nil, badParam("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, badParam("query parameter %q given %d times", k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// requestID returns the {id} path value, checked.
func requestID(r *http.Request) (string, *apiError) {
	id := r.PathValue("id")
	if err := audit.CheckID(id); err != nil {
		return "", badParam("request id %q is not valid: it must be non-empty, at most 504 bytes of UTF-8, without '/'", id)
	}
	return id, nil
}

// parseLimit reads the limit parameter: def when absent, else an integer
// in 1..max.
func parseLimit(q map[string]string, def, max int) (int, *apiError) {
	s, ok := q["limit"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, errorf(http.StatusBadRequest, CodeInvalidLimit, "limit must be an integer from 1 to %d, got %q", max, s)
	}
	return n, nil
}

// ParseTime parses an RFC 3339 time as the asOf and since parameters take
// it ("2026-11-28T03:00:00Z", "2026-11-28T04:00:00.5+01:00"). A space where
// the offset's '+' belongs (an unencoded '+' in a query string decodes to a
// space) is read as '+'. The result is in UTC, and its year within
// 0…9999 (what RFC 3339 can write back).
func ParseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && strings.Count(s, " ") == 1 && len(s) > 6 && s[len(s)-6] == ' ' {
		t, err = time.Parse(time.RFC3339Nano, s[:len(s)-6]+"+"+s[len(s)-5:])
	}
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// timeParam reads the time parameter name; ok is false when it is absent.
func timeParam(q map[string]string, name string) (t time.Time, ok bool, e *apiError) {
	s, ok := q[name]
	if !ok {
		return time.Time{}, false, nil
	}
	t, valid := ParseTime(s)
	if !valid {
		return time.Time{}, false, errorf(http.StatusBadRequest, CodeInvalidTime,
			"%s must be an RFC 3339 time such as 2026-11-28T03:00:00Z, got %q", name, s)
	}
	return t, true, nil
}

// asOfParam reads asOf, refusing a time in the future.
func (a *API) asOfParam(q map[string]string) (time.Time, bool, *apiError) {
	t, ok, e := timeParam(q, "asOf")
	if e != nil || !ok {
		return t, ok, e
	}
	if now := a.now(); t.After(now.Add(maxFutureSkew)) {
		return t, false, errorf(http.StatusBadRequest, CodeInvalidTime,
			"asOf %s is in the future (server time %s)", t.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339))
	}
	return t, true, nil
}

// formatTime is the canonical text of a parameter time, as cursors record it.
func formatTime(t time.Time, ok bool) string {
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
