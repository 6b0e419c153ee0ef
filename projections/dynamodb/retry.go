package dynamodb

import (
	"context"

	"github.com/streamer/streamer/internal/ddbretry"
)

// RetryPolicy is the event store's policy type (events/dynamodb, shared
// through internal/ddbretry): up to MaxAttempts calls, with exponential
// backoff and full jitter between them. The view store retries throttling,
// transaction conflicts, 5xx errors and dropped connections under it;
// failed conditions (version conflicts, fences) are never retried by the
// store.
type RetryPolicy = ddbretry.Policy

// DefaultRetryPolicy is the event store's default: 8 attempts, backoff
// caps from 25 ms doubling to 1 s.
var DefaultRetryPolicy = ddbretry.DefaultPolicy

type retrier = ddbretry.Retrier

func newRetrier(p RetryPolicy) retrier { return ddbretry.New(p, isTransient) }

// do runs op until it succeeds, fails permanently, ctx ends, or the
// attempts run out (ddbretry.Do).
func do[T any](ctx context.Context, r retrier, op func(ctx context.Context) (T, error)) (T, error) {
	return ddbretry.Do(ctx, r, func(ctx context.Context, _ int) (T, error) { return op(ctx) })
}

// noSDKRetry disables the SDK's retryer for one call: the store's policy
// does the retrying, so attempts are bounded in one place.
var noSDKRetry = ddbretry.NoSDKRetry
