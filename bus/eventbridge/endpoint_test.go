package eventbridge_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/streamer/streamer/bus/eventbridge"
)

// sdkEndpoint is the endpoint the SDK's own resolver gives for region (no
// FIPS, no dual-stack, no global endpoint ID), or for a base endpoint, with
// path "/" where it has none, as the SDK sends the request.
func sdkEndpoint(t *testing.T, region string, base *string) string {
	t.Helper()
	ep, err := awseventbridge.NewDefaultEndpointResolverV2().ResolveEndpoint(context.Background(), awseventbridge.EndpointParameters{
		Region: aws.String(region), Endpoint: base,
	})
	if err != nil {
		t.Fatalf("sdk resolver, region %s: %v", region, err)
	}
	if ep.URI.Path == "" {
		ep.URI.Path = "/"
	}
	return ep.URI.String()
}

// TestEndpointMatchesSDK: for regions of every partition (and their global
// pseudo-regions, and regions no partition pattern matches) our endpoint is
// the SDK resolver's.
func TestEndpointMatchesSDK(t *testing.T) {
	regions := []string{
		// aws
		"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-2", "eu-south-2", "ap-southeast-7",
		"ap-northeast-3", "sa-east-1", "ca-west-1", "me-central-1", "af-south-1", "il-central-1", "mx-central-1",
		"aws-global",
		// aws-cn
		"cn-north-1", "cn-northwest-1", "aws-cn-global",
		// aws-us-gov
		"us-gov-west-1", "us-gov-east-1", "aws-us-gov-global",
		// aws-iso, -b, -e, -f
		"us-iso-east-1", "us-iso-west-1", "aws-iso-global",
		"us-isob-east-1", "aws-iso-b-global",
		"eu-isoe-west-1", "aws-iso-e-global",
		"us-isof-south-1", "us-isof-east-1", "aws-iso-f-global",
		// aws-eusc
		"eusc-de-east-1",
		// regions of the future, and what no pattern matches (the aws partition)
		"ap-future-9", "cn-south-7", "us-gov-north-3", "us-iso-north-2", "eu-isoe-north-4", "eusc-de-west-2",
		"xx-unknown-1", "local", "us-east-1a",
	}
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			got, err := eventbridge.Endpoint(region)
			if err != nil {
				t.Fatal(err)
			}
			if want := sdkEndpoint(t, region, nil); got != want {
				t.Fatalf("endpoint %s, the SDK's %s", got, want)
			}
		})
	}
}

// TestBaseEndpointMatchesSDK: a configured base endpoint is used as the SDK
// uses it, whatever the region.
func TestBaseEndpointMatchesSDK(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:5000", "http://localhost:4566/", "https://events.example.com/prefix", "https://vpce-1.events.eu-west-1.vpce.amazonaws.com"} {
		t.Run(base, func(t *testing.T) {
			cfg := testConfig(base)
			cfg.Region = "cn-north-1"
			c, err := eventbridge.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want := sdkEndpoint(t, cfg.Region, aws.String(base)); c.Endpoint() != want {
				t.Fatalf("endpoint %s, the SDK's %s", c.Endpoint(), want)
			}
		})
	}
}

func TestEndpointRejectsWhatIsNoHostLabel(t *testing.T) {
	for _, region := range []string{"", "eu west 1", "-eu-west-1", "eu-west-1-", "eu.west.1", "eu/west", "a" + string(make([]byte, 70))} {
		if ep, err := eventbridge.Endpoint(region); err == nil || !errors.Is(err, eventbridge.ErrBadEndpoint) {
			t.Errorf("Endpoint(%q) = %q, %v; want ErrBadEndpoint", region, ep, err)
		}
	}
}
