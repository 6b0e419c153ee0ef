package dynamodb

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/internal/ddbretry"
)

// Transaction cancellation reason codes (TransactWriteItems API reference).
const (
	reasonConditionalCheckFailed = ddbretry.ReasonConditionalCheckFailed
	reasonTransactionConflict    = ddbretry.ReasonTransactionConflict
	reasonThrottlingError        = ddbretry.ReasonThrottlingError
)

// isTransient reports whether a DynamoDB call that failed with err may
// succeed if made again unchanged. A cancelled or expired context never is;
// a version conflict never is.
func isTransient(err error) bool { return ddbretry.IsTransient(err, events.ErrVersionConflict) }

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
