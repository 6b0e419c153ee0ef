// Package awsbus builds the EventBridge publisher of the projector. It is
// a package of its own so that only the programs that publish (the
// projector Lambda, the local AWS stack) link the EventBridge client and
// pay its package initialisation at start.
package awsbus

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/streamer/streamer/bus"
	ebpub "github.com/streamer/streamer/bus/eventbridge"
)

// New returns the publisher to the EventBridge bus busName (EVENT_BUS_NAME)
// with entries of source (EVENT_SOURCE; empty means "streamer"), for
// app.AWSConfig.Publisher; nil, nil when busName is empty (no bus).
func New(awsCfg aws.Config, busName, source string, logger *slog.Logger) (bus.Publisher, error) {
	if busName == "" {
		return nil, nil
	}
	if logger == nil {
		logger = slog.Default()
	}
	p, err := ebpub.New(eventbridge.NewFromConfig(awsCfg), ebpub.Config{
		BusName: busName, Source: source, Logger: logger.With("component", "publisher"),
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
