package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/streamer/streamer/app/embedded"
	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/handler"
)

// shout is a user's handler: sync (short), answering inline.
type shout struct{}

func (shout) Action() string                   { return "shout" }
func (shout) EstimatedDuration() time.Duration { return time.Millisecond }
func (shout) Validate(req *handler.Request) error {
	var p struct{ Text string }
	if json.Unmarshal(req.Payload, &p) != nil || p.Text == "" {
		return errors.New("payload.text is required")
	}
	return nil
}
func (shout) Process(_ context.Context, req *handler.Request) (*handler.Response, error) {
	var p struct{ Text string }
	json.Unmarshal(req.Payload, &p)
	return &handler.Response{Result: json.RawMessage(fmt.Sprintf(`{"text":%q}`, p.Text+"!"))}, nil
}

// Run your own handlers on the local stack: register them on a Router and
// give it to embedded.Start; the stack serves the WebSocket API (and the
// audit API) on a loopback port, and mints development tokens.
func Example() {
	ctx := context.Background()
	router := handler.NewRouter()
	if err := router.Register(shout{}); err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "streamer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	stack, err := embedded.Start(ctx, embedded.StackConfig{
		Config: embedded.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Router: router, // nil would register the demo handlers
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()

	token, err := stack.Token("alice", "acme")
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.Dial(ctx, stack.WebSocketURL, client.Options{Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.Request(ctx, "shout", map[string]string{"text": "hello"}, client.RequestOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, string(res.Result))
	// Output: completed {"text":"hello!"}
}
