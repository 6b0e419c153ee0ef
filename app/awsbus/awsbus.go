// Package awsbus builds the EventBridge publisher of the projector. It is
// a package of its own so that only the programs that publish (the
// projector Lambda, the local AWS stack) link the publisher. Neither it nor
// bus/eventbridge links the SDK's EventBridge service package: PutEvents
// goes out as a signed HTTP request (bus/eventbridge.Client), which keeps
// that package's initialisation (about 2 ms) out of the projector's cold
// start.
package awsbus

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/bus"
	ebpub "github.com/streamer/streamer/bus/eventbridge"
)

// New returns the publisher to the EventBridge bus busName (EVENT_BUS_NAME)
// with entries of source (EVENT_SOURCE; empty means "streamer"), for
// app.AWSConfig.Publisher; nil, nil when busName is empty (no bus).
// awsCfg gives the region, the credentials, the HTTP client and the
// endpoint (BaseEndpoint when set, e.g. moto; else EventBridge's endpoint
// in the region). It fails when awsCfg has no region or credentials.
func New(awsCfg aws.Config, busName, source string, logger *slog.Logger) (bus.Publisher, error) {
	if busName == "" {
		return nil, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	client, err := ebpub.NewClient(awsCfg)
	if err != nil {
		return nil, err
	}
	p, err := ebpub.New(client, ebpub.Config{
		BusName: busName, Source: source, Logger: logger.With("component", "publisher"),
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
