package subscriber_test

import (
	"errors"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus/subscriber"
)

// FuzzDecode: any detail decodes to an event, a *RefError or an
// ErrNotStreamerEvent; never a panic.
func FuzzDecode(f *testing.F) {
	f.Add("request.completed", []byte(`{"id":"01900000-0000-7000-8000-000000000001","stream":"request/r","version":2,"type":"request.completed","schemaVersion":1,"time":"2024-05-01T12:00:00Z","meta":{},"data":{"result":1},"prevHash":"","hash":"h"}`))
	f.Add("request.progress", []byte(`{"id":"a","stream":"request/r","version":3,"type":"request.progress","schemaVersion":1,"time":"2024-05-01T12:00:00Z","meta":{},"data":{"percent":5},"prevHash":"","hash":""}`))
	f.Add("request.completed", []byte(`{"id":"a","stream":"request/r","version":2,"type":"request.completed","time":"2024-05-01T12:00:00Z","ref":{"stream":"request/r","version":2}}`))
	f.Add("x", []byte(`{"ref":null}`))
	f.Fuzz(func(t *testing.T, detailType string, detail []byte) {
		e, err := subscriber.Decode(awsevents.EventBridgeEvent{DetailType: detailType, Detail: detail})
		var ref *subscriber.RefError
		switch {
		case err == nil:
			if e.ID == "" || e.Version < 1 || (detailType != "" && e.Type != detailType) {
				t.Fatalf("decoded an incomplete event %+v", e)
			}
		case errors.As(err, &ref):
			if ref.Stream == "" || ref.Version < 1 {
				t.Fatalf("reference without a target: %+v", ref)
			}
		case !errors.Is(err, subscriber.ErrNotStreamerEvent):
			t.Fatalf("error %v matches no sentinel", err)
		}
	})
}
