package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/streamer/streamer/handler"
)

// greet is a sync handler: it answers inline.
type greet struct{}

func (greet) Action() string                   { return "greet" }
func (greet) EstimatedDuration() time.Duration { return 0 }
func (greet) Validate(req *handler.Request) error {
	var p struct{ Name string }
	if err := json.Unmarshal(req.Payload, &p); err != nil || p.Name == "" {
		return errors.New("payload must be {\"name\": \"...\"}")
	}
	return nil
}
func (greet) Process(_ context.Context, req *handler.Request) (*handler.Response, error) {
	var p struct{ Name string }
	_ = json.Unmarshal(req.Payload, &p)
	return &handler.Response{Result: json.RawMessage(fmt.Sprintf(`{"greeting":"hello, %s"}`, p.Name))}, nil
}

func ExampleRouter() {
	r := handler.NewRouter()
	if err := r.Register(greet{}); err != nil {
		panic(err)
	}
	fmt.Println(r.Register(greet{}))

	req := &handler.Request{ID: "r1", Action: "greet", Payload: json.RawMessage(`{"name":"ada"}`)}
	if err := r.Validate(req); err != nil {
		panic(err)
	}
	resp, err := r.Process(context.Background(), req)
	fmt.Println(string(resp.Result), err)

	bad := &handler.Request{Action: "greet", Payload: json.RawMessage(`{}`)}
	var ve *handler.ValidationError
	fmt.Println(errors.As(r.Validate(bad), &ve), ve)
	// Output:
	// handler: action already registered: "greet"
	// {"greeting":"hello, ada"} <nil>
	// true payload must be {"name": "..."}
}
