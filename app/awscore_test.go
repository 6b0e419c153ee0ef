package app

import (
	"context"
	"errors"
	"testing"
)

func TestNoPosterRefusesEveryCall(t *testing.T) {
	ctx := context.Background()
	var p noPoster
	if err := p.Post(ctx, "c1", []byte("x")); !errors.Is(err, ErrNoPoster) {
		t.Errorf("Post: %v, want ErrNoPoster", err)
	}
	if _, err := p.Info(ctx, "c1"); !errors.Is(err, ErrNoPoster) {
		t.Errorf("Info: %v, want ErrNoPoster", err)
	}
	if err := p.Disconnect(ctx, "c1"); !errors.Is(err, ErrNoPoster) {
		t.Errorf("Disconnect: %v, want ErrNoPoster", err)
	}
}
