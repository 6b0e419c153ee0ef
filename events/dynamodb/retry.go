package dynamodb

import (
	"context"

	"github.com/streamer/streamer/internal/ddbretry"
)

// RetryPolicy says how the Store retries a DynamoDB call that failed
// transiently (throttling, a transaction conflict, a 5xx, a dropped
// connection): up to MaxAttempts calls in all, sleeping a random duration
// between 0 and min(MaxDelay, BaseDelay·2ⁿ⁻¹) after the n-th failure
// ("full jitter"), so that writers throttled together do not retry
// together. Version conflicts and other permanent errors are never retried.
// The view store (projections/dynamodb) shares it (internal/ddbretry).
type RetryPolicy = ddbretry.Policy

// DefaultRetryPolicy: 8 attempts, backoff caps from 25 ms doubling to 1 s,
// about 2.5 s of sleep at most before the Store gives up with ErrTransient.
var DefaultRetryPolicy = ddbretry.DefaultPolicy

type retrier = ddbretry.Retrier

func newRetrier(p RetryPolicy) retrier { return ddbretry.New(p, isTransient) }

// retrying decorates op so that its transient failures are retried under
// r's policy (ddbretry.Do).
func retrying[T any](r retrier, op func(ctx context.Context, attempt int) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) { return ddbretry.Do(ctx, r, op) }
}

var fullJitter = ddbretry.FullJitter
