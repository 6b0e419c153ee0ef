// Package frontposter is the @connections client of the local front
// (app.Front): the production poster (connections/apigw, SigV4-signed
// HTTP in the SDK's wire format) over HTTP to the local gateway. It is
// apart from package app so that the Lambdas, which link app, do not link
// a poster unless they post.
package frontposter

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/connections/apigw"
)

// New returns the @connections client of front (its /ws/@connections).
func New(front *app.Front) connections.Poster {
	return apigw.NewFromConfig(aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, front.HTTPURL+app.WebSocketPath)
}
