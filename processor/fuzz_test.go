package processor_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/processor"
)

// FuzzDecodeDetail: an EventBridge detail is outside input. DecodeDetail
// never panics, refuses with ErrInvalidDetail, and what it accepts is
// either a well-formed envelope or a ref to a request stream.
func FuzzDecodeDetail(f *testing.F) {
	for _, file := range []string{"testdata/eventbridge-submitted.json", "testdata/eventbridge-ref.json"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var ev struct{ Detail json.RawMessage }
		if err := json.Unmarshal(raw, &ev); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(ev.Detail))
	}
	f.Add([]byte(`{"ref":null}`))
	f.Add([]byte(`{"ref":{"stream":"request/a/b","version":1}}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		d, err := processor.DecodeDetail(detail)
		if err != nil {
			if !errors.Is(err, processor.ErrInvalidDetail) {
				t.Fatalf("error %v does not match ErrInvalidDetail", err)
			}
			return
		}
		switch {
		case (d.Event == nil) == (d.Ref == nil):
			t.Fatalf("exactly one of Event and Ref must be set: %+v", d)
		case d.Ref != nil:
			kind, _, err := events.ParseStream(d.Ref.Stream)
			if err != nil || kind != events.KindRequest || d.Ref.Version < 1 {
				t.Fatalf("accepted ref %+v", d.Ref)
			}
		default:
			enc, err := events.Encode(*d.Event)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := events.Decode(enc); err != nil {
				t.Fatalf("accepted envelope does not decode again: %v", err)
			}
		}
	})
}
