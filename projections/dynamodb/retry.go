package dynamodb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/events"
	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
)

// RetryPolicy is the event store's policy type (events/dynamodb): up to
// MaxAttempts calls, with exponential backoff and full jitter between
// them. The view store retries throttling, transaction conflicts, 5xx
// errors and dropped connections under it; failed conditions (version
// conflicts, fences) are never retried by the store.
type RetryPolicy = eventsdynamodb.RetryPolicy

// DefaultRetryPolicy is the event store's default: 8 attempts, backoff
// caps from 25 ms doubling to 1 s.
var DefaultRetryPolicy = eventsdynamodb.DefaultRetryPolicy

// retrier runs calls under a RetryPolicy; sleep and jitter are replaceable
// for tests.
type retrier struct {
	policy    RetryPolicy
	transient func(error) bool
	sleep     func(ctx context.Context, d time.Duration) error
	jitter    func(limit time.Duration) time.Duration // uniform in [0, limit]
}

func newRetrier(p RetryPolicy) retrier {
	p.MaxAttempts = max(p.MaxAttempts, 1)
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

// do runs op until it succeeds, fails permanently, ctx ends, or the
// attempts run out; then the error matches events.ErrTransient and wraps
// the last failure.
func do[T any](ctx context.Context, r retrier, op func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		v, err := op(ctx)
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

// noSDKRetry disables the SDK's retryer for one call: the store's policy
// does the retrying, so attempts are bounded in one place.
func noSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

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
