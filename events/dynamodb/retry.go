package dynamodb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/streamer/streamer/events"
)

// RetryPolicy says how the Store retries a DynamoDB call that failed
// transiently (throttling, a transaction conflict, a 5xx, a dropped
// connection): up to MaxAttempts calls in all, sleeping a random duration
// between 0 and min(MaxDelay, BaseDelay·2ⁿ⁻¹) after the n-th failure
// ("full jitter"), so that writers throttled together do not retry
// together. Version conflicts and other permanent errors are never retried.
type RetryPolicy struct {
	MaxAttempts int           // calls in all, the first included; ≥ 1
	BaseDelay   time.Duration // backoff cap after the first failure
	MaxDelay    time.Duration // backoff cap for any failure
}

// DefaultRetryPolicy: 8 attempts, backoff caps from 25 ms doubling to 1 s,
// about 2.5 s of sleep at most before the Store gives up with ErrTransient.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 8, BaseDelay: 25 * time.Millisecond, MaxDelay: time.Second}

// retrier runs calls under a RetryPolicy. transient decides which errors
// are retried; sleep and jitter are replaceable for tests.
type retrier struct {
	policy    RetryPolicy
	transient func(error) bool
	sleep     func(ctx context.Context, d time.Duration) error
	jitter    func(limit time.Duration) time.Duration // uniform in [0, limit]
}

func newRetrier(p RetryPolicy) retrier {
	return retrier{policy: p, transient: isTransient, sleep: sleepCtx, jitter: fullJitter}
}

// backoff is the sleep after the n-th failed attempt (n ≥ 1).
func (r retrier) backoff(n int) time.Duration {
	limit := r.policy.BaseDelay
	for i := 1; i < n && limit < r.policy.MaxDelay; i++ {
		limit *= 2
	}
	return r.jitter(min(limit, r.policy.MaxDelay))
}

// retrying decorates op so that its transient failures are retried under
// r's policy. op learns which attempt it is (1-based), so that a write
// retried after an ambiguous failure can recognise its own earlier success.
// The decorated call returns op's first permanent error as it is, the
// context's error if ctx ends first, or, when the attempts run out, an
// error matching events.ErrTransient that wraps the last failure.
func retrying[T any](r retrier, op func(ctx context.Context, attempt int) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		var zero T
		for attempt := 1; ; attempt++ {
			if err := ctx.Err(); err != nil {
				return zero, err
			}
			v, err := op(ctx, attempt)
			switch {
			case err == nil:
				return v, nil
			case ctx.Err() != nil || !r.transient(err):
				return zero, err
			case attempt >= r.policy.MaxAttempts:
				return zero, fmt.Errorf("%w: gave up after %d attempts: %w", events.ErrTransient, attempt, err)
			}
			if serr := r.sleep(ctx, r.backoff(attempt)); serr != nil {
				return zero, fmt.Errorf("%w (backing off after attempt %d failed: %v)", serr, attempt, err)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func fullJitter(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}
