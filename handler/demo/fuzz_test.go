package demo_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// FuzzValidate: payloads are outside input. Validate never panics, and
// whatever generate_report or fail accepts is a JSON object or nothing.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{``, `{}`, `null`, `{"rows":5,"stepDelay":"1s"}`, `{"message":"m","retryable":true}`,
		`{"rows":1e6}`, `{"stepDelay":"1h"}`, `[{}]`, `{"a":{"b":[1,2,{"c":null}]}}`} {
		f.Add([]byte(s))
	}
	hs := []handler.Handler{demo.Echo{}, demo.NewGenerateReport(demo.Options{Steps: 2, StepDelay: time.Millisecond}), demo.NewFail(demo.Options{})}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, h := range hs {
			err := h.Validate(&handler.Request{Action: h.Action(), Payload: payload})
			if err != nil {
				continue
			}
			if h.Action() == demo.EchoAction && !json.Valid(payload) {
				t.Fatalf("echo accepted invalid JSON %q", payload)
			}
			var v any
			if len(payload) > 0 && json.Unmarshal(payload, &v) == nil {
				if _, isObj := v.(map[string]any); !isObj && v != nil {
					t.Fatalf("%s accepted a non-object %q", h.Action(), payload)
				}
			}
		}
	})
}
