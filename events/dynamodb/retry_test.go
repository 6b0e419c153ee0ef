package dynamodb

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamer/streamer/events"
)

// The retry policy is pure logic: these tests feed it a fake sequence of
// errors and record its sleeps instead of sleeping.

var (
	throttled  = &smithy.GenericAPIError{Code: "ThrottlingException", Message: "rate exceeded"}
	txConflict = &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String(reasonTransactionConflict)},
	}}
	condFailedTx = &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String(reasonConditionalCheckFailed)}, {Code: aws.String(reasonTransactionConflict)},
	}}
	serverError = &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("service unavailable"),
	}}
	conflict = writeError(&types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}, []int64{3})
	boom     = errors.New("validation: bad request")
)

// fakeRetrier records the sleeps it is asked for; jitter returns its limit.
func fakeRetrier(p RetryPolicy, slept *[]time.Duration) retrier {
	r := newRetrier(p)
	r.Jitter = func(limit time.Duration) time.Duration { return limit }
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		*slept = append(*slept, d)
		return ctx.Err()
	}
	return r
}

// sequence is an op that fails with errs in turn, then succeeds.
func sequence(errs ...error) (func(context.Context, int) (int, error), *int) {
	calls := 0
	return func(_ context.Context, attempt int) (int, error) {
		calls++
		if attempt != calls {
			panic("attempt number out of step")
		}
		if calls <= len(errs) {
			return 0, errs[calls-1]
		}
		return 42, nil
	}, &calls
}

func TestRetrying(t *testing.T) {
	policy := RetryPolicy{MaxAttempts: 5, BaseDelay: 10 * time.Millisecond, MaxDelay: 35 * time.Millisecond}
	cases := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   error // nil: success
		wantSleep []time.Duration
	}{
		{"success at once", nil, 1, nil, nil},
		{"throttled twice then success", []error{throttled, throttled}, 3, nil, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{"transaction conflict is retried", []error{txConflict}, 2, nil, []time.Duration{10 * time.Millisecond}},
		{"5xx is retried", []error{serverError}, 2, nil, []time.Duration{10 * time.Millisecond}},
		{"version conflict is never retried", []error{conflict}, 1, events.ErrVersionConflict, nil},
		{"condition failed in a transaction is a conflict, whatever else failed", []error{condFailedTx}, 1, condFailedTx, nil},
		{"permanent error returned as it is", []error{throttled, boom}, 2, boom, []time.Duration{10 * time.Millisecond}},
		{"attempts run out", []error{throttled, throttled, throttled, throttled, throttled, throttled}, 5, events.ErrTransient,
			[]time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 35 * time.Millisecond, 35 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var slept []time.Duration
			op, calls := sequence(tc.errs...)
			v, err := retrying(fakeRetrier(policy, &slept), op)(context.Background())
			if *calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", *calls, tc.wantCalls)
			}
			switch {
			case tc.wantErr == nil && (err != nil || v != 42):
				t.Errorf("got %d, %v; want 42, nil", v, err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want errors.Is %v", err, tc.wantErr)
			}
			if len(slept) != len(tc.wantSleep) {
				t.Fatalf("slept %v, want %v", slept, tc.wantSleep)
			}
			for i := range slept {
				if slept[i] != tc.wantSleep[i] {
					t.Fatalf("slept %v, want %v", slept, tc.wantSleep)
				}
			}
		})
	}
	t.Run("exhausted error keeps the last failure", func(t *testing.T) {
		var slept []time.Duration
		op, _ := sequence(throttled, throttled, throttled, throttled, throttled)
		_, err := retrying(fakeRetrier(policy, &slept), op)(context.Background())
		var api smithy.APIError
		if !errors.Is(err, events.ErrTransient) || !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
			t.Fatalf("error %v: want ErrTransient wrapping the ThrottlingException", err)
		}
	})
}

func TestRetryingRespectsContext(t *testing.T) {
	policy := RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour}
	t.Run("cancelled before the first call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		op, calls := sequence()
		_, err := retrying(newRetrier(policy), op)(ctx)
		if !errors.Is(err, context.Canceled) || *calls != 0 {
			t.Fatalf("err %v after %d calls, want context.Canceled after 0", err, *calls)
		}
	})
	t.Run("cancelled while backing off", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		op, calls := sequence(throttled, throttled)
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, err := retrying(newRetrier(policy), op)(ctx) // real sleep of up to an hour
		if !errors.Is(err, context.Canceled) || *calls != 1 {
			t.Fatalf("err %v after %d calls, want context.Canceled after 1", err, *calls)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("backoff ignored the cancelled context for %v", time.Since(start))
		}
	})
	t.Run("a failure caused by the context is not retried", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		op := func(context.Context, int) (int, error) {
			calls++
			cancel()
			return 0, serverError
		}
		_, err := retrying(newRetrier(policy), op)(ctx)
		if calls != 1 || err == nil {
			t.Fatalf("%d calls, err %v; want 1 call and an error", calls, err)
		}
	})
}

func TestFullJitterStaysWithinLimit(t *testing.T) {
	r := newRetrier(RetryPolicy{MaxAttempts: 10, BaseDelay: 8 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	for n := 1; n <= 10; n++ {
		limit := min(8*time.Millisecond<<(n-1), 100*time.Millisecond)
		for range 200 {
			if d := r.Backoff(n); d < 0 || d > limit {
				t.Fatalf("backoff after failure %d = %v, want within [0, %v]", n, d, limit)
			}
		}
	}
	if fullJitter(0) != 0 {
		t.Fatal("jitter of a zero limit is not zero")
	}
}

func TestIsTransient(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"throttling", throttled, true},
		{"provisioned throughput", &types.ProvisionedThroughputExceededException{Message: aws.String("x")}, true},
		{"request limit", &types.RequestLimitExceeded{Message: aws.String("x")}, true},
		{"internal server error", &types.InternalServerError{Message: aws.String("x")}, true},
		{"transaction conflict exception", &types.TransactionConflictException{Message: aws.String("x")}, true},
		{"transaction cancelled for a conflict", txConflict, true},
		{"transaction cancelled for throttling", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String(reasonThrottlingError)}}}, true},
		{"transaction cancelled by a condition", condFailedTx, false},
		{"transaction cancelled by validation", &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("ValidationError")}}}, false},
		{"5xx", serverError, true},
		{"version conflict", conflict, false},
		{"context cancelled", context.Canceled, false},
		{"other", boom, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := isTransient(tc.err); got != tc.want {
				t.Fatalf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
