package ddbretry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/events"
)

// Policy says how a DynamoDB call that failed transiently is retried: up
// to MaxAttempts calls in all, sleeping a random duration between 0 and
// min(MaxDelay, BaseDelay·2ⁿ⁻¹) after the n-th failure ("full jitter"), so
// that writers throttled together do not retry together.
type Policy struct {
	MaxAttempts int           // calls in all, the first included; ≥ 1
	BaseDelay   time.Duration // backoff cap after the first failure
	MaxDelay    time.Duration // backoff cap for any failure
}

// DefaultPolicy: 8 attempts, backoff caps from 25 ms doubling to 1 s,
// about 2.5 s of sleep at most before giving up with events.ErrTransient.
var DefaultPolicy = Policy{MaxAttempts: 8, BaseDelay: 25 * time.Millisecond, MaxDelay: time.Second}

// Retrier runs calls under a Policy. Transient decides which errors are
// retried; Sleep and Jitter are replaceable for tests.
type Retrier struct {
	Policy    Policy
	Transient func(error) bool
	Sleep     func(ctx context.Context, d time.Duration) error
	Jitter    func(limit time.Duration) time.Duration // uniform in [0, limit]
}

// New is a Retrier with the real clock and randomness.
func New(p Policy, transient func(error) bool) Retrier {
	p.MaxAttempts = max(p.MaxAttempts, 1)
	return Retrier{Policy: p, Transient: transient, Sleep: SleepCtx, Jitter: FullJitter}
}

// Backoff is the sleep after the n-th failed attempt (n ≥ 1).
func (r Retrier) Backoff(n int) time.Duration {
	limit := r.Policy.BaseDelay
	for i := 1; i < n && limit < r.Policy.MaxDelay; i++ {
		limit *= 2
	}
	return r.Jitter(min(limit, r.Policy.MaxDelay))
}

// Do runs op until it succeeds, fails permanently (returned as it is), ctx
// ends (ctx's error), or the attempts run out: then the error matches
// events.ErrTransient and wraps the last failure. op learns which attempt
// it is (1-based), so that a write retried after an ambiguous failure can
// recognise its own earlier success.
func Do[T any](ctx context.Context, r Retrier, op func(ctx context.Context, attempt int) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		v, err := op(ctx, attempt)
		switch {
		case err == nil:
			return v, nil
		case ctx.Err() != nil || !r.Transient(err):
			return zero, err
		case attempt >= r.Policy.MaxAttempts:
			return zero, fmt.Errorf("%w: gave up after %d attempts: %w", events.ErrTransient, attempt, err)
		}
		if serr := r.Sleep(ctx, r.Backoff(attempt)); serr != nil {
			return zero, fmt.Errorf("%w (backing off after attempt %d failed: %v)", serr, attempt, err)
		}
	}
}

// NoSDKRetry disables the SDK's retryer for one call: the adapter's policy
// does the retrying, so attempts are bounded in one place.
func NoSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

// SleepCtx sleeps d or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FullJitter is uniform in [0, limit].
func FullJitter(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}
