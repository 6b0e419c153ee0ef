package projections

import (
	"errors"
	"fmt"
	"strings"

	"github.com/streamer/streamer/events"
)

// ViewKind selects kinds of views: the request views, the connection views
// (with their subscriber and user indexes), or both. A rebuild replays the
// kinds its RebuildOptions.Views selects and carries the others over from
// the active generation; Generations.CopyViews copies the views of a kind.
type ViewKind string

// The view selections. The zero ViewKind ("") means ViewAll wherever a
// ViewKind is accepted, and in Meta.Views (a rebuild recorded before the
// field existed rebuilt every kind).
const (
	ViewAll         ViewKind = "all"
	ViewRequests    ViewKind = "requests"
	ViewConnections ViewKind = "connections"
)

// ErrUnknownViewKind: a view selection other than all, requests or
// connections.
var ErrUnknownViewKind = errors.New("unknown view kind")

// ParseViewKind parses a selection as the CLI takes it: "all", "requests"
// or "connections" (case-insensitive, surrounding spaces ignored); ""
// is ViewAll.
func ParseViewKind(s string) (ViewKind, error) {
	k := ViewKind(strings.ToLower(strings.TrimSpace(s))).orAll()
	if err := k.Validate(); err != nil {
		return "", err
	}
	return k, nil
}

// Validate reports ErrUnknownViewKind for anything but the three
// selections and "".
func (k ViewKind) Validate() error {
	switch k.orAll() {
	case ViewAll, ViewRequests, ViewConnections:
		return nil
	}
	return fmt.Errorf("%w %q: want %s, %s or %s", ErrUnknownViewKind, string(k), ViewAll, ViewRequests, ViewConnections)
}

// orAll is k with "" read as ViewAll.
func (k ViewKind) orAll() ViewKind {
	if k == "" {
		return ViewAll
	}
	return k
}

// Kinds are the single kinds k selects: both for ViewAll, k itself
// otherwise (nil when k is not valid).
func (k ViewKind) Kinds() []ViewKind {
	switch k.orAll() {
	case ViewAll:
		return []ViewKind{ViewRequests, ViewConnections}
	case ViewRequests, ViewConnections:
		return []ViewKind{k}
	}
	return nil
}

// Others are the single kinds k does not select: what a rebuild of k
// carries over.
func (k ViewKind) Others() []ViewKind {
	switch k.orAll() {
	case ViewRequests:
		return []ViewKind{ViewConnections}
	case ViewConnections:
		return []ViewKind{ViewRequests}
	}
	return nil
}

// Includes reports whether k selects the views of streams of kind.
func (k ViewKind) Includes(kind events.StreamKind) bool {
	switch k.orAll() {
	case ViewAll:
		return kind == events.KindRequest || kind == events.KindConnection
	case ViewRequests:
		return kind == events.KindRequest
	case ViewConnections:
		return kind == events.KindConnection
	}
	return false
}

// includesStream is Includes for a stream name, by its prefix alone: what
// a rebuild checks for every event it reads.
func (k ViewKind) includesStream(stream string) bool {
	switch k.orAll() {
	case ViewRequests:
		return strings.HasPrefix(stream, events.RequestStreamPrefix)
	case ViewConnections:
		return strings.HasPrefix(stream, events.ConnectionStreamPrefix)
	}
	return true // ViewAll: every stream, malformed names included, so fold reports them
}

// String is the selection's name ("all" for the zero ViewKind).
func (k ViewKind) String() string { return string(k.orAll()) }
