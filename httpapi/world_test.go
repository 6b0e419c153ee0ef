package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
)

// world is the data every API test reads: requests of two tenants, one of
// them with a long history appended event by event.
type world struct {
	long        string         // alice's request with 12 events, each appended on its own
	longEvs     []events.Event // its events as stored
	unprojected string         // alice's request whose events the projector has not seen
	alice       []string       // alice's projected requests, newest first
	bob         []string       // bob's, newest first
	carol       []string       // carol's (tenant globex)
	completed   []string       // acme's completed requests, newest first
	running     []string       // alice's running requests
	a3          string         // alice's running request, the since boundary in list tests
}

func meta(user, tenant string) events.Meta {
	return events.Meta{Actor: user, Tenant: tenant, Source: "httpapi-test", CorrelationID: "corr-" + user}
}

func submitted(user, tenant, action string) events.Event {
	return events.MustNew(events.RequestSubmitted, events.Submitted{Action: action, Owner: user, Tenant: tenant}, meta(user, tenant))
}

func started(attempt int) events.Event {
	return events.MustNew(events.RequestStarted, events.Started{Attempt: attempt, Worker: "worker-1"}, meta("system:processor", ""))
}

func progress(pct float64, msg string) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct, Message: msg}, meta("system:processor", ""))
}

func completed(result string) events.Event {
	return events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(result)}, meta("system:processor", ""))
}

func failed(code, msg string) events.Event {
	return events.MustNew(events.RequestFailed, events.Failed{Code: code, Message: msg, Retryable: true, Attempt: 1}, meta("system:processor", ""))
}

// progressV1 is a request.progress in its schema-1 shape, as an old
// processor wrote it.
func progressV1(percent int, status string) events.Event {
	e := events.MustNew(events.RequestProgressed, map[string]any{"percent": percent, "status": status}, meta("system:processor", ""))
	e.SchemaVersion = 1
	return e
}

// pause separates the times the store stamps on consecutive appends.
func pause() { time.Sleep(3 * time.Millisecond) }

func seed(t *testing.T, b *backend) *world {
	t.Helper()
	w := &world{long: "long-" + events.NewID()}
	appendOne := func(e events.Event) {
		w.longEvs = append(w.longEvs, b.append(t, w.long, int64(len(w.longEvs)), e)...)
		pause()
	}
	appendOne(submitted("alice", "acme", "generate_report"))
	appendOne(started(1))
	appendOne(progressV1(10, "warming up"))
	for pct := 20; pct <= 90; pct += 10 {
		msg := ""
		if pct == 20 {
			msg = "generating rows"
		}
		appendOne(progress(float64(pct), msg))
	}
	appendOne(completed(`{"rows":1200}`))

	request := func(owner, tenant string, evs ...events.Event) string {
		id := owner + "-" + events.NewID()
		b.append(t, id, 0, append([]events.Event{submitted(owner, tenant, "echo")}, evs...)...)
		pause()
		return id
	}
	a1 := request("alice", "acme", started(1), completed(`{"n":1}`))
	a2 := request("alice", "acme", started(1), failed("handler_error", "upstream timeout"))
	b1 := request("bob", "acme", started(1), completed(`{"n":2}`))
	w.a3 = request("alice", "acme", started(1), progress(42, "generating rows"))
	c1 := request("carol", "globex", started(1), completed(`{"n":3}`))
	a4 := request("alice", "acme")
	b2 := request("bob", "acme", started(1))
	a5 := request("alice", "acme", started(1), completed(`{"n":5}`))

	w.alice = []string{a5, a4, w.a3, a2, a1, w.long}
	w.bob = []string{b2, b1}
	w.carol = []string{c1}
	w.completed = []string{a5, b1, a1, w.long}
	w.running = []string{w.a3}

	w.unprojected = "fresh-" + events.NewID()
	if _, err := b.store.Append(t.Context(), events.RequestStream(w.unprojected), 0, submitted("alice", "acme", "echo"), started(1)); err != nil {
		t.Fatal(err)
	}
	return w
}
