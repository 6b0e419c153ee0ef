package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/projections"
)

// RequestList is the body of GET /requests.
type RequestList struct {
	Requests   []projections.RequestView `json:"requests"`
	NextCursor string                    `json:"nextCursor,omitempty"` // absent on the last page
}

// maxListRounds bounds the view-store reads behind one list page: a page
// whose filters drop many views is returned short (with a cursor) rather
// than reading on without end.
const maxListRounds = 8

// getRequest serves GET /requests/{id}[?asOf=].
func (a *API) getRequest(r *http.Request, p auth.Principal) (any, *apiError) {
	id, e := requestID(r)
	if e != nil {
		return nil, e
	}
	q, e := query(r, "asOf")
	if e != nil {
		return nil, e
	}
	asOf, at, e := a.asOfParam(q)
	if e != nil {
		return nil, e
	}
	ctx := r.Context()
	if !at {
		v, err := a.reader.GetRequest(ctx, id)
		if err == nil {
			if e := authorizeView(p, id, v.Tenant, v.Owner); e != nil {
				return nil, e
			}
			return v, nil
		}
		if !errors.Is(err, projections.ErrNotFound) {
			return nil, storeError(id, err)
		}
		// No view (yet: the projector follows the log asynchronously):
		// the log is the truth, replay it.
	}
	evs, err := audit.History(ctx, a.store, id)
	if err != nil {
		return nil, storeError(id, err)
	}
	if e := authorize(p, id, evs[0]); e != nil {
		return nil, e
	}
	if at {
		first := evs[0]
		if evs = audit.AsOf(evs, asOf); len(evs) == 0 {
			return nil, notSubmittedYet(id, asOf, first)
		}
	}
	v, err := audit.Replay(evs)
	if err != nil {
		return nil, replayError(id, err)
	}
	return v, nil
}

// listRequests serves GET /requests[?status=&owner=&since=&limit=&cursor=].
//
// The list is newest first. owner defaults to the caller, except for a
// caller with audit:read who filters by status: that lists every owner of
// the caller's tenant. Listing another owner needs audit:read. since keeps
// the requests submitted at or after it: the list ends at the first older
// one.
func (a *API) listRequests(r *http.Request, p auth.Principal) (any, *apiError) {
	q, e := query(r, "status", "owner", "since", "limit", "cursor")
	if e != nil {
		return nil, e
	}
	status, owner := q["status"], q["owner"]
	if _, ok := q["status"]; ok && !slices.Contains(statuses, status) {
		return nil, badParam("status must be one of %s, got %q", strings.Join(statuses, ", "), status)
	}
	auditor := p.Has(auth.PermAuditRead)
	if owner != "" && owner != p.User && !auditor {
		return nil, errorf(http.StatusForbidden, CodeForbidden, "listing the requests of another user needs the %s permission", auth.PermAuditRead)
	}
	if owner == "" && (status == "" || !auditor) {
		owner = p.User
	}
	since, hasSince, e := timeParam(q, "since")
	if e != nil {
		return nil, e
	}
	limit, e := parseLimit(q, DefaultListLimit, MaxListLimit)
	if e != nil {
		return nil, e
	}
	list := listCursor{Kind: kindList, Status: status, Owner: owner, Since: formatTime(since, hasSince)}
	pos := ""
	if c, ok := q["cursor"]; ok {
		s, err := decodeListCursor(c, list)
		if err != nil {
			return nil, badCursor(err)
		}
		pos = s
	}
	ctx := r.Context()
	fetch := func(opts projections.ListOptions) (projections.RequestPage, error) {
		if owner != "" {
			return a.reader.RequestsByOwner(ctx, p.Tenant, owner, opts)
		}
		return a.reader.RequestsByStatus(ctx, p.Tenant, status, opts)
	}
	body := RequestList{Requests: make([]projections.RequestView, 0, min(limit, 64))}
	for round := 0; round < maxListRounds && len(body.Requests) < limit; round++ {
		// Never ask for more than the page still holds: the store's cursor
		// then always points right after the last view looked at.
		page, err := fetch(projections.ListOptions{Limit: limit - len(body.Requests), Cursor: pos})
		if errors.Is(err, projections.ErrInvalidCursor) {
			return nil, badCursor(err)
		}
		if err != nil {
			return nil, storeError("", err)
		}
		pos = page.Cursor
		for _, v := range page.Items {
			if hasSince && v.SubmittedAt.Before(since) {
				pos = "" // newest first: everything after this is older still
				break
			}
			if (status == "" || v.Status == status) && auth.CanRead(p, v.Tenant, v.Owner) == nil {
				body.Requests = append(body.Requests, v)
			}
		}
		if pos == "" {
			break
		}
	}
	if pos != "" {
		list.Store = pos
		body.NextCursor = encodeCursor(list)
	}
	return body, nil
}
