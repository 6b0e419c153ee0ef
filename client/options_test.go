package client

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	err := Options{
		Reconnect:        ReconnectPolicy{MaxAttempts: -1, MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		HandshakeTimeout: -1, WriteTimeout: -1, ReadLimit: -1,
	}.Validate()
	for _, want := range []string{"max attempts", "min backoff", "handshake timeout", "write timeout", "read limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem about %s", err, want)
		}
	}
	if _, derr := Dial(testCtx(t), "ws://127.0.0.1:1/ws", Options{ReadLimit: -1}); derr == nil {
		t.Fatal("Dial accepted invalid options")
	}
	if _, derr := Dial(testCtx(t), "ftp://example.com/", Options{}); derr == nil {
		t.Fatal("Dial accepted an ftp URL")
	}
}

func TestBackoffStaysInItsWindow(t *testing.T) {
	p := Options{Reconnect: ReconnectPolicy{MinBackoff: 10 * time.Millisecond, MaxBackoff: time.Second}}.withDefaults().Reconnect
	for n, ceil := range []time.Duration{10, 20, 40, 80, 160, 320, 640, 1000, 1000} {
		ceil *= time.Millisecond
		for range 50 {
			if d := p.backoff(n); d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d waits %v, want within [%v, %v]", n, d, ceil/2, ceil)
			}
		}
	}
	if d := p.backoff(200); d < p.MaxBackoff/2 || d > p.MaxBackoff {
		t.Fatalf("attempt 200 waits %v", d)
	}
}

func TestDialFailureIsNotUnauthorized(t *testing.T) {
	_, err := Dial(testCtx(t), "ws://127.0.0.1:1/ws", Options{})
	if err == nil || errors.Is(err, ErrUnauthorized) {
		t.Fatalf("dial of a closed port: %v", err)
	}
}
