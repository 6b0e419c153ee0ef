package dynamodb

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/internal/ddbretry"
	"github.com/streamer/streamer/projections"
)

// ErrTooManyIndexChanges: a connection view write would add or remove more
// subscription index entries than one TransactWriteItems holds (100 items:
// the view, the fence check and MaxIndexChanges entries). Nothing was
// written. Keeping each connection at most MaxSubscriptions subscriptions
// (where subscribe is accepted) makes it impossible.
var ErrTooManyIndexChanges = errors.New("too many subscription index changes for one transaction")

// Transaction limits.
const (
	// maxTransactItems is DynamoDB's limit on one TransactWriteItems.
	maxTransactItems = 100
	// MaxIndexChanges is the most subscription index entries one connection
	// view write may put or delete: the transaction also holds the view and
	// the fence check.
	MaxIndexChanges = maxTransactItems - 2
	// MaxSubscriptions is the cap on a connection's subscriptions, enforced
	// where subscribe is accepted, that keeps every write within one
	// transaction however many subscribe and unsubscribe events a batch
	// coalesces: at most 48 entries removed and 48 added (or rewritten for
	// a new expiry), 96 ≤ MaxIndexChanges — the 48 projections documents.
	MaxSubscriptions = 48
)

// Transaction cancellation reason codes (TransactWriteItems API reference).
const (
	reasonConditionalCheckFailed = ddbretry.ReasonConditionalCheckFailed
	reasonThrottlingError        = ddbretry.ReasonThrottlingError
)

// isTransient reports whether a DynamoDB call that failed with err may
// succeed if made again unchanged. A failed condition never is.
func isTransient(err error) bool {
	return ddbretry.IsTransient(err, projections.ErrViewConflict, projections.ErrFenced)
}

// failedConditions tells which conditions of a transaction of n items
// failed: the item at fenceIndex (-1: none) is the fence check, the others
// are view writes. The cancellation reasons are positional; when a response
// lacks them, the codes DynamoDB lists in its message ("… reasons
// [ConditionalCheckFailed, None]") are used. known is false when err is not
// a failed condition, or it cannot be told which item failed.
func failedConditions(err error, n, fenceIndex int) (fenced, conflict, known bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, true, true // a single-item write: its own condition
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false, false, false
	}
	codes := make([]string, 0, n)
	for _, r := range tce.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if len(codes) != n {
		codes = reasonsInMessage(tce.ErrorMessage())
	}
	if len(codes) != n {
		return false, false, false
	}
	for i, c := range codes {
		if c != reasonConditionalCheckFailed {
			continue
		}
		if i == fenceIndex {
			fenced = true
		} else {
			conflict = true
		}
	}
	return fenced, conflict, fenced || conflict
}

// reasonsInMessage extracts the bracketed, comma-separated reason codes of
// a cancellation message.
func reasonsInMessage(msg string) []string {
	open, end := strings.LastIndexByte(msg, '['), strings.LastIndexByte(msg, ']')
	if open < 0 || end < open {
		return nil
	}
	var codes []string
	for c := range strings.SplitSeq(msg[open+1:end], ",") {
		codes = append(codes, strings.TrimSpace(c))
	}
	return codes
}
