package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/streamer/streamer/gateway"
)

// A route answers a message; a server-side component posts to the socket
// through the real apigatewaymanagementapi SDK client, exactly as it would
// on AWS. (streamer's own poster, connections/apigw, sends the same
// requests without the SDK client.)
func Example() {
	ids := make(chan string, 1)
	g, err := gateway.New(gateway.Config{
		Logger: quiet,
		Routes: map[string]gateway.Integration{
			"$connect": func(_ context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
				ids <- req.RequestContext.ConnectionID
				return awsevents.APIGatewayProxyResponse{StatusCode: 200}, nil
			},
			"echo": func(_ context.Context, req awsevents.APIGatewayWebsocketProxyRequest) (awsevents.APIGatewayProxyResponse, error) {
				return awsevents.APIGatewayProxyResponse{StatusCode: 200, Body: "echo: " + req.Body}, nil
			},
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/", http.StripPrefix("/ws", g.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer g.Close()

	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1)+"/ws/", nil)
	if err != nil {
		panic(err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte(`{"action":"echo"}`))
	_, reply, _ := ws.Read(ctx)
	fmt.Println(string(reply))

	client := apigatewaymanagementapi.NewFromConfig(aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(srv.URL + "/ws")
	})
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(<-ids),
		Data:         []byte("pushed"),
	}); err != nil {
		panic(err)
	}
	_, pushed, _ := ws.Read(ctx)
	fmt.Println(string(pushed))
	// Output:
	// echo: {"action":"echo"}
	// pushed
}
