package ddbretry

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Transaction cancellation reason codes (TransactWriteItems API reference).
const (
	ReasonConditionalCheckFailed        = "ConditionalCheckFailed"
	ReasonTransactionConflict           = "TransactionConflict"
	ReasonThrottlingError               = "ThrottlingError"
	ReasonProvisionedThroughputExceeded = "ProvisionedThroughputExceeded"
)

// transientCodes are the DynamoDB error codes that mean "try again": the
// request was throttled, collided with a transaction, or the service
// failed.
var transientCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"TransactionConflictException":           true,
	"TransactionInProgressException":         true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
	"RequestTimeout":                         true,
	"RequestTimeoutException":                true,
}

// IsTransient reports whether a DynamoDB call that failed with err may
// succeed if made again unchanged. A cancelled or expired context never
// is, nor a failed condition, nor an error matching one of permanent (the
// adapter's own answers, e.g. events.ErrVersionConflict).
func IsTransient(err error, permanent ...error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, p := range permanent {
		if errors.Is(err, p) {
			return false
		}
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return CancelledTransiently(tce)
	}
	var api smithy.APIError
	if errors.As(err, &api) && transientCodes[api.ErrorCode()] {
		return true
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return true
	}
	return retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary
}

// CancelledTransiently: a transaction cancelled for throttling or a
// conflicting transaction, and not because a condition failed.
func CancelledTransiently(tce *types.TransactionCanceledException) bool {
	transient := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case ReasonConditionalCheckFailed:
			return false
		case ReasonTransactionConflict, ReasonThrottlingError, ReasonProvisionedThroughputExceeded:
			transient = true
		}
	}
	return transient
}
