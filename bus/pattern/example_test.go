package pattern_test

import (
	"fmt"

	"github.com/streamer/streamer/bus/pattern"
)

func ExampleCompile() {
	p, err := pattern.Compile([]byte(`{
		"source": ["streamer"],
		"detail-type": [{"prefix": "request."}],
		"detail": {"data": {"percentage": [{"numeric": [">=", 50]}]}}
	}`))
	if err != nil {
		panic(err)
	}
	event := `{"source":"streamer","detail-type":"request.progress","detail":{"data":{"percentage":62.5}}}`
	ok, _ := p.Match([]byte(event))
	fmt.Println(ok)

	_, err = pattern.Compile([]byte(`{"detail":{"state":[{"wildcard":"a**"}]}}`))
	fmt.Println(err)
	// Output:
	// true
	// invalid event pattern: at detail.state: wildcard: consecutive wildcard characters at position 1
}
