package protocol_test

import (
	"fmt"

	"github.com/streamer/streamer/protocol"
)

func ExampleDecode() {
	in, err := protocol.Decode([]byte(`{"action":"subscribe","requestId":"0b9c2f5e","fromVersion":3}`))
	fmt.Println(in.Action, in.RequestID, in.FromVersion, err == nil)

	in, err = protocol.Decode([]byte(`{"action":"subscribe"}`))
	fmt.Println(string(protocol.ErrorFrame(&in, err).Marshal()))
	// Output:
	// subscribe 0b9c2f5e 3 true
	// {"type":"error","action":"subscribe","error":{"code":"invalid_frame","message":"action \"subscribe\" needs field \"requestId\""}}
}
