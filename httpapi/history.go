package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
)

// HistoryPage is the body of GET /requests/{id}/events.
type HistoryPage struct {
	RequestID  string        `json:"requestId"`
	AsOf       *time.Time    `json:"asOf,omitempty"` // the asOf asked for, if any
	Events     []audit.Entry `json:"events"`
	NextCursor string        `json:"nextCursor,omitempty"` // absent on the last page
}

// VerifyResult is the body of GET /requests/{id}/verify: 200 whether the
// chain holds or not (the request succeeded; the chain is the answer).
type VerifyResult struct {
	RequestID string `json:"requestId"`
	audit.Result
}

// history serves GET /requests/{id}/events[?asOf=&limit=&cursor=].
func (a *API) history(r *http.Request, p auth.Principal) (any, *apiError) {
	id, e := requestID(r)
	if e != nil {
		return nil, e
	}
	q, e := query(r, "asOf", "limit", "cursor")
	if e != nil {
		return nil, e
	}
	limit, e := parseLimit(q, DefaultEventsLimit, MaxEventsLimit)
	if e != nil {
		return nil, e
	}
	asOf, at, e := a.asOfParam(q)
	if e != nil {
		return nil, e
	}
	from := int64(1)
	if c, ok := q["cursor"]; ok {
		v, err := decodeEventsCursor(c, id, formatTime(asOf, at))
		if err != nil {
			return nil, badCursor(err)
		}
		from = v
	}
	ctx, stream := r.Context(), events.RequestStream(id)
	page, err := a.store.Load(ctx, stream, from, limit)
	if err != nil {
		return nil, storeError(id, err)
	}
	var first events.Event
	if from == 1 && len(page.Events) > 0 {
		first = page.Events[0]
	} else {
		fp, err := a.store.Load(ctx, stream, 1, 1)
		if err != nil {
			return nil, storeError(id, err)
		}
		if len(fp.Events) == 0 {
			return nil, notFound(id)
		}
		first = fp.Events[0]
	}
	if e := authorize(p, id, first); e != nil {
		return nil, e
	}
	evs, next := page.Events, page.Next
	body := HistoryPage{RequestID: id}
	if at {
		body.AsOf = &asOf
		if cut := audit.AsOf(evs, asOf); len(cut) < len(evs) {
			evs, next = cut, 0
		}
		if from == 1 && len(evs) == 0 {
			return nil, notSubmittedYet(id, asOf, first)
		}
		if next != 0 {
			// Do not hand out a cursor to an empty page: look at the next event.
			np, err := a.store.Load(ctx, stream, next, 1)
			if err != nil {
				return nil, storeError(id, err)
			}
			if len(np.Events) == 0 || np.Events[0].Time.After(asOf) {
				next = 0
			}
		}
	}
	body.Events = audit.Entries(evs)
	if next != 0 {
		body.NextCursor = encodeCursor(eventsCursor{Kind: kindEvents, Request: id, From: next, AsOf: formatTime(asOf, at)})
	}
	return body, nil
}

// notSubmittedYet is the 404 of an asOf before a request's first event.
func notSubmittedYet(id string, asOf time.Time, first events.Event) *apiError {
	return errorf(http.StatusNotFound, CodeNotFound, "request %s had not been submitted at %s (its first event is at %s)",
		id, asOf.Format(time.RFC3339Nano), first.Time.UTC().Format(time.RFC3339Nano))
}

// verify serves GET /requests/{id}/verify.
func (a *API) verify(r *http.Request, p auth.Principal) (any, *apiError) {
	id, e := requestID(r)
	if e != nil {
		return nil, e
	}
	if _, e := query(r); e != nil {
		return nil, e
	}
	evs, err := audit.History(r.Context(), a.store, id)
	if err != nil {
		return nil, storeError(id, err)
	}
	if e := authorize(p, id, evs[0]); e != nil {
		return nil, e
	}
	res := audit.Verify(evs)
	if !res.OK {
		a.log.WarnContext(r.Context(), "hash chain broken", "request", id, "stream", events.RequestStream(id),
			"version", res.BrokenAt, "reason", res.Reason, "user", p.User)
	}
	return VerifyResult{RequestID: id, Result: res}, nil
}

// replayError is the response to a history that does not fold into a view.
func replayError(id string, err error) *apiError {
	if !errors.Is(err, audit.ErrReplay) {
		return storeError(id, err)
	}
	return &apiError{status: http.StatusInternalServerError, code: CodeInternal,
		message: "the history of request " + id + " cannot be replayed (" + err.Error() + "); GET /requests/" + id + "/verify checks its chain",
		cause:   err}
}
