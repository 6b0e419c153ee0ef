package fanout

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/protocol"
)

// FuzzBuildFrame: whatever an event read from the feed holds, building its
// frame never panics (protocol.Outbound.Marshal panics on invalid raw JSON),
// the full frame is valid, within the message limit and carries data, and
// the bare frame always exists, without data and marked truncated.
func FuzzBuildFrame(f *testing.F) {
	f.Add(events.RequestProgressed, 2, []byte(`{"percentage":40,"message":"x"}`))
	f.Add(events.RequestProgressed, 1, []byte(`{"percent":40,"status":"x"}`))
	f.Add(events.RequestProgressed, 1, []byte(`{"status":"no percent"}`))
	f.Add(events.RequestFailed, 1, []byte(`{"error":"boom"}`))
	f.Add(events.RequestCompleted, 1, []byte(`{"result":`+strings.Repeat("1", 10)+`}`))
	f.Add(events.RequestSubmitted, 1, []byte(`{"action":"echo","owner":"u"`))
	f.Add("request.unknown", 3, []byte(`null`))
	f.Fuzz(func(t *testing.T, typ string, schema int, data []byte) {
		e := events.Event{ID: "id", StreamID: "request/r1", Version: 7, Type: typ, SchemaVersion: schema,
			Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Data: data}
		fr, err := buildFrame(e)
		var bare protocol.Outbound
		if jerr := json.Unmarshal(fr.bare, &bare); jerr != nil || bare.Data != nil || !bare.Truncated || bare.Version != 7 || (utf8.ValidString(typ) && bare.Event != typ) || bare.RequestID != "r1" {
			t.Fatalf("bare frame %s: %v", fr.bare, jerr)
		}
		if fr.full == nil {
			if err == nil {
				t.Fatal("no full frame and no reason")
			}
			return
		}
		if err != nil || len(fr.full) > protocol.MaxMessageSize {
			t.Fatalf("full frame of %d bytes with error %v", len(fr.full), err)
		}
		var full protocol.Outbound
		if jerr := json.Unmarshal(fr.full, &full); jerr != nil || full.Data == nil || full.Truncated || !json.Valid(full.Data) {
			t.Fatalf("full frame %s: %v", fr.full, jerr)
		}
	})
}
