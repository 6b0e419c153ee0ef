package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamer/streamer/events"
)

// Transaction cancellation reason codes (TransactWriteItems API reference).
const (
	reasonConditionalCheckFailed        = "ConditionalCheckFailed"
	reasonTransactionConflict           = "TransactionConflict"
	reasonThrottlingError               = "ThrottlingError"
	reasonProvisionedThroughputExceeded = "ProvisionedThroughputExceeded"
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

// isTransient reports whether a DynamoDB call that failed with err may
// succeed if made again unchanged. A cancelled or expired context never is;
// a version conflict never is.
func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, events.ErrVersionConflict) {
		return false
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return cancelledTransiently(tce)
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

// cancelledTransiently: a transaction cancelled for throttling or a
// conflicting transaction, and not because a condition failed.
func cancelledTransiently(tce *types.TransactionCanceledException) bool {
	transient := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case reasonConditionalCheckFailed:
			return false
		case reasonTransactionConflict, reasonThrottlingError, reasonProvisionedThroughputExceeded:
			transient = true
		}
	}
	return transient
}

// conflictVersion reports whether err says a conditional write found its
// item already there, and which of versions (the versions written, in
// request order) it was, when DynamoDB says.
func conflictVersion(err error, versions []int64) (int64, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return versions[0], true
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == reasonConditionalCheckFailed {
				if i < len(versions) {
					return versions[i], true
				}
				return versions[0], true
			}
		}
	}
	return 0, false
}

// tooLarge reports whether DynamoDB rejected a write for its size: the
// Store checks sizes first, so this is the backstop for a service whose
// accounting differs from ours.
func tooLarge(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" {
		return false
	}
	msg := strings.ToLower(api.ErrorMessage())
	return strings.Contains(msg, "item size") || strings.Contains(msg, "size limit") ||
		strings.Contains(msg, "cannot be larger than")
}

// writeError maps the error of a conditional write to the events sentinel
// it means.
func writeError(err error, versions []int64) error {
	if v, ok := conflictVersion(err, versions); ok {
		return fmt.Errorf("%w: version %d of the stream already exists: %v", events.ErrVersionConflict, v, err)
	}
	if tooLarge(err) {
		return fmt.Errorf("%w: DynamoDB's 400 KB item or 4 MB transaction limit: %v", events.ErrEventTooLarge, err)
	}
	return err
}
