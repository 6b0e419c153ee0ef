package testenv

import (
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// serialMu orders the requests of every Serial configuration in the
// process.
var serialMu sync.Mutex

// Serial returns cfg with an HTTP client that sends one request at a time
// (process-wide, across every client built from a Serial configuration).
//
// Known moto divergence: moto_server handles requests on concurrent
// threads without isolating them, so two conditional writes of the same
// DynamoDB item racing each other can both pass their condition (the
// second overwrites the first), where DynamoDB makes each conditional write
// atomic. Tests that race conditional writes against one item, and assert
// that exactly one wins, use Serial so that moto applies each request
// whole; the Go code under test still runs concurrently. Do not use it
// with long-polling calls (SQS ReceiveMessage with WaitTimeSeconds), which
// would hold every other request up.
func Serial(cfg aws.Config) aws.Config {
	next := cfg.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = serialClient{next}
	return cfg
}

type serialClient struct{ next aws.HTTPClient }

func (c serialClient) Do(req *http.Request) (*http.Response, error) {
	// moto answers once it has applied the request, so holding the lock
	// until the response headers arrive is enough.
	serialMu.Lock()
	defer serialMu.Unlock()
	return c.next.Do(req)
}
