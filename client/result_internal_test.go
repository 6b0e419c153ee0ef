package client

import (
	"testing"

	"github.com/streamer/streamer/protocol"
)

// A terminal frame that came truncated says so on the Result: its Result
// is missing because of the size limit, not because the handler returned
// none.
func TestResultCarriesTruncation(t *testing.T) {
	sync := Submission{Type: protocol.TypeResponse, RequestID: "r1", Version: 3, Status: StatusCompleted, Truncated: true}
	if r := sync.Outcome(); !r.Truncated || r.Result != nil || r.Err() != nil {
		t.Fatalf("sync outcome %+v", r)
	}
	if r := (Submission{Type: protocol.TypeResponse, RequestID: "r1", Version: 3, Status: StatusCompleted}).Outcome(); r.Truncated {
		t.Fatal("an untruncated response is marked truncated")
	}
	end := Event{RequestID: "r2", Version: 7, Type: EventCompleted, Truncated: true}
	if r := resultOf(end, []Event{end}); !r.Truncated || r.Status != StatusCompleted || r.Result != nil {
		t.Fatalf("async result %+v", r)
	}
	end.Truncated = false
	if r := resultOf(end, []Event{end}); r.Truncated {
		t.Fatal("an untruncated end is marked truncated")
	}
}
