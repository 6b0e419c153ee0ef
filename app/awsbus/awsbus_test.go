package awsbus

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestNew(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	if p, err := New(cfg, "", "", nil); p != nil || err != nil {
		t.Fatalf("no bus: %v, %v; want nil, nil", p, err)
	}
	if p, err := New(cfg, "streamer", strings.Repeat("s", 257), nil); err == nil || p != nil {
		t.Fatalf("source over 256 characters: %v, %v; want an error and no publisher", p, err)
	}
	p, err := New(cfg, "streamer", "test", nil)
	if err != nil || p == nil {
		t.Fatalf("bus: %v, %v; want a publisher", p, err)
	}
}
