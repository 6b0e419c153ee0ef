package client_test

import (
	"context"
	"fmt"

	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/client/clienttest"
)

func ExampleClient_Request() {
	srv := clienttest.NewServer(clienttest.Config{DuplicateLive: true}) // a hostile stand-in for the server
	defer srv.Close()
	ctx := context.Background()

	c, err := client.Dial(ctx, srv.URL, client.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	res, err := c.Request(ctx, "job", map[string]int{"steps": 2}, client.RequestOptions{
		OnProgress: func(p client.Progress) { fmt.Printf("v%d %3.0f%% %s\n", p.Version, p.Percentage, p.Message) },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Result), len(res.Events), "events")
	// Output:
	// v3  50% step 1
	// v4 100% step 2
	// completed {"steps":2} 4 events
}

func ExampleClient_Follow() {
	srv := clienttest.NewServer(clienttest.Config{ReverseReplay: true})
	defer srv.Close()
	id := srv.Create("job")
	srv.Emit(id, "request.started", map[string]int{"attempt": 1})
	srv.Emit(id, "request.failed", map[string]any{"code": "handler_error", "message": "disk full"})
	ctx := context.Background()

	c, err := client.Dial(ctx, srv.URL, client.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	res, err := c.Follow(ctx, id, 1, func(e client.Event) { fmt.Println(e.Version, e.Type) })
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Err())
	// Output:
	// 2 request.started
	// 3 request.failed
	// request req-1 failed: handler_error: disk full
}
