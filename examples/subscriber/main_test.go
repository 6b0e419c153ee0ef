package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/events"
)

func TestHandleLogsCompletedRequestsOnce(t *testing.T) {
	var logs bytes.Buffer
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	e := events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"pages":3}`)}, events.Meta{Actor: "alice", Tenant: "acme"})
	e.ID, e.StreamID, e.Version, e.Time = events.NewID(), events.RequestStream("req-1"), 5, time.Now().UTC()
	full, _ := bus.Detail(e)
	ref, _ := bus.RefDetailOf(e)
	for _, detail := range [][]byte{full, full, ref, []byte(`{"not":"ours"}`)} {
		if err := handle(context.Background(), bus.EventBridgeEvent(e, "eb", "streamer", "1", "r", detail)); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String()
	for _, want := range []string{`"msg":"request completed"`, `"request_id":"req-1"`, `"msg":"duplicate delivery skipped"`,
		`"msg":"completed request too large for the bus"`, `"msg":"undecodable event"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	if strings.Count(out, `"msg":"request completed"`) != 1 {
		t.Errorf("the completed request was logged more than once:\n%s", out)
	}
}
