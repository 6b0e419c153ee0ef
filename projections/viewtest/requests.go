package viewtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

func testRequestRoundTrip(t *testing.T, h Harness) {
	s := h.New(t)
	full := fullRequest("req-full")
	mustPutRequest(t, s, full, 0)
	equal(t, "full view after insert", getRequest(t, s, full.RequestID), full)

	// Zero values come back as zero values: nil Result and Error, zero times.
	bare := projections.RequestView{RequestID: "req-bare", Status: projections.StatusQueued, Version: 1}
	mustPutRequest(t, s, bare, 0)
	equal(t, "bare view", getRequest(t, s, bare.RequestID), bare)

	// An update replaces every field, including clearing optional ones.
	next := bare
	next.Action, next.Status, next.Percentage, next.Version = "echo", projections.StatusRunning, 0.25, 2
	next.Error = &projections.RequestError{Code: "", Message: "", Retryable: false}
	mustPutRequest(t, s, next, 1)
	equal(t, "updated view", getRequest(t, s, bare.RequestID), next)
	cleared := full
	cleared.Result, cleared.Error, cleared.StartedAt, cleared.CompletedAt, cleared.Version = nil, nil, time.Time{}, time.Time{}, 10
	mustPutRequest(t, s, cleared, 9)
	equal(t, "cleared view", getRequest(t, s, full.RequestID), cleared)
}

func testNotFound(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	_, err := s.GetRequest(ctx, "nope")
	wantErr(t, "get missing request", err, projections.ErrNotFound)
	_, err = s.GetConnection(ctx, "nope")
	wantErr(t, "get missing connection", err, projections.ErrNotFound)
	wantErr(t, "delete missing connection", s.DeleteConnection(ctx, "nope", 1), projections.ErrNotFound)
	if err := subsAre(ctx, s, "nope"); err != nil {
		t.Fatalf("subscribers of an unknown request: %v", err)
	}
	if err := usersAre(ctx, s, "acme", "nobody"); err != nil {
		t.Fatalf("connections of an unknown user: %v", err)
	}
	for name, list := range map[string]func() (projections.RequestPage, error){
		"by owner": func() (projections.RequestPage, error) {
			return s.RequestsByOwner(ctx, "acme", "nobody", projections.ListOptions{})
		},
		"by status": func() (projections.RequestPage, error) {
			return s.RequestsByStatus(ctx, "", "queued", projections.ListOptions{})
		},
	} {
		p, err := list()
		if err != nil || len(p.Items) != 0 || p.Cursor != "" {
			t.Fatalf("empty list %s = %+v, %v; want no items, no cursor", name, p, err)
		}
	}
	exp, err := s.ExpiredConnections(ctx, base.Add(1000*time.Hour), 10)
	if err != nil || len(exp) != 0 {
		t.Fatalf("expired connections of an empty store = %v, %v", exp, err)
	}
}

func testRequestVersionGuard(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	v1 := request("r1", "acme", "alice", projections.StatusQueued, at(0), 1)
	mustPutRequest(t, s, v1, 0)

	stale := v1
	stale.Status, stale.Version = projections.StatusRunning, 2
	for _, expected := range []int64{0, 2, 5} {
		err := s.PutRequest(ctx, stale, expected)
		wantErr(t, fmt.Sprintf("put at expected %d onto version 1", expected), err, projections.ErrViewConflict)
		equal(t, "view after a rejected put", getRequest(t, s, "r1"), v1)
	}
	wantErr(t, "put a missing view at expected 1", s.PutRequest(ctx, request("r2", "acme", "alice", "queued", at(0), 2), 1), projections.ErrViewConflict)
	if _, err := s.GetRequest(ctx, "r2"); err == nil {
		t.Fatal("a rejected put created a view")
	}

	mustPutRequest(t, s, stale, 1)
	equal(t, "view after the guarded put", getRequest(t, s, "r1"), stale)
	wantErr(t, "replayed put at expected 1", s.PutRequest(ctx, stale, 1), projections.ErrViewConflict)
}

// listFixture writes requests for list tests and returns them.
func listFixture(t *testing.T, s projections.ViewStore) []projections.RequestView {
	t.Helper()
	var all []projections.RequestView
	statuses := []string{projections.StatusQueued, projections.StatusRunning, projections.StatusCompleted}
	for i := range 23 {
		// Groups of three share a submission time, so ties are ordered by ID.
		v := request(fmt.Sprintf("a-%02d", i), "acme", "alice", statuses[i%3], at(time.Duration(i/3)*time.Minute), int64(1+i%4))
		all = append(all, v)
	}
	for i := range 7 {
		all = append(all, request(fmt.Sprintf("b-%02d", i), "acme", "bob", statuses[i%3], at(time.Duration(i)*time.Second), 1))
		all = append(all, request(fmt.Sprintf("c-%02d", i), "globex", "alice", statuses[i%3], at(time.Duration(i)*time.Hour), 1))
	}
	all = append(all, projections.RequestView{RequestID: "z-unsubmitted", Owner: "alice", Tenant: "acme", Status: projections.StatusQueued, Version: 1})
	for _, v := range all {
		mustPutRequest(t, s, v, 0)
	}
	return all
}

// newestFirst is the expected order of views: SubmittedAt descending, then
// RequestID descending.
func newestFirst(vs []projections.RequestView, keep func(projections.RequestView) bool) []string {
	var sel []projections.RequestView
	for _, v := range vs {
		if keep(v) {
			sel = append(sel, v)
		}
	}
	slices.SortFunc(sel, func(a, b projections.RequestView) int {
		if c := b.SubmittedAt.Compare(a.SubmittedAt); c != 0 {
			return c
		}
		return strings.Compare(b.RequestID, a.RequestID)
	})
	ids := make([]string, len(sel))
	for i, v := range sel {
		ids[i] = v.RequestID
	}
	return ids
}

// checkList pages through list with several limits and compares each
// traversal with want.
func checkList(t *testing.T, h Harness, what string, want []string, list func(projections.ListOptions) (projections.RequestPage, error)) {
	t.Helper()
	ctx := context.Background()
	eventually(t, h, what+": full list", func() error {
		got, _, err := listAll(ctx, projections.MaxListLimit, list)
		if err == nil && !slices.Equal(got, want) {
			err = fmt.Errorf("got %q, want %q", got, want)
		}
		return err
	})
	for _, limit := range []int{1, 4, 5, 7, 0} {
		got, pages, err := listAll(ctx, limit, list)
		if err != nil {
			t.Fatalf("%s, limit %d: %v", what, limit, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s, limit %d, %d pages: each item must come once, newest first:\n got %q\nwant %q", what, limit, pages, got, want)
		}
		if limit > 0 && len(want) > limit && pages < 2 {
			t.Fatalf("%s, limit %d: %d items in %d page", what, limit, len(got), pages)
		}
	}
}

func testListByOwner(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	all := listFixture(t, s)
	list := func(tenant, owner string) func(projections.ListOptions) (projections.RequestPage, error) {
		return func(o projections.ListOptions) (projections.RequestPage, error) {
			return s.RequestsByOwner(ctx, tenant, owner, o)
		}
	}
	wantAlice := newestFirst(all, func(v projections.RequestView) bool { return v.Tenant == "acme" && v.Owner == "alice" })
	checkList(t, h, "alice in acme", wantAlice, list("acme", "alice"))
	checkList(t, h, "alice in globex", newestFirst(all, func(v projections.RequestView) bool { return v.Tenant == "globex" }), list("globex", "alice"))
	checkList(t, h, "bob in acme", newestFirst(all, func(v projections.RequestView) bool { return v.Owner == "bob" }), list("acme", "bob"))

	// A full page carries every field.
	full := fullRequest("a-full")
	full.SubmittedAt = at(24 * time.Hour)
	mustPutRequest(t, s, full, 0)
	eventually(t, h, "full view listed first", func() error {
		p, err := s.RequestsByOwner(ctx, "acme", "alice", projections.ListOptions{Limit: 1})
		if err != nil {
			return err
		}
		if len(p.Items) != 1 || p.Cursor == "" {
			return fmt.Errorf("first page %+v, want one item and a cursor", p)
		}
		equal(t, "listed view", p.Items[0], full)
		return nil
	})
}

func testListByStatus(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	all := listFixture(t, s)
	list := func(tenant, status string) func(projections.ListOptions) (projections.RequestPage, error) {
		return func(o projections.ListOptions) (projections.RequestPage, error) {
			return s.RequestsByStatus(ctx, tenant, status, o)
		}
	}
	for _, status := range []string{projections.StatusQueued, projections.StatusRunning, projections.StatusCompleted} {
		checkList(t, h, status+" in every tenant", newestFirst(all, func(v projections.RequestView) bool { return v.Status == status }), list("", status))
		checkList(t, h, status+" in acme", newestFirst(all, func(v projections.RequestView) bool { return v.Status == status && v.Tenant == "acme" }), list("acme", status))
	}
	// A status change moves a view from one list to the other.
	v := getRequest(t, s, "a-00")
	moved := v
	moved.Status, moved.Version = projections.StatusFailed, v.Version+1
	mustPutRequest(t, s, moved, v.Version)
	all[0] = moved
	checkList(t, h, "failed after the move", []string{"a-00"}, list("", projections.StatusFailed))
	checkList(t, h, "queued after the move", newestFirst(all, func(v projections.RequestView) bool { return v.Status == projections.StatusQueued }), list("", projections.StatusQueued))
}

func testInvalidCursor(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	listFixture(t, s)
	for _, c := range []string{"garbage!", "bm90IGEgY3Vyc29y", "%%%"} {
		_, err := s.RequestsByOwner(ctx, "acme", "alice", projections.ListOptions{Limit: 2, Cursor: c})
		wantErr(t, "owner list with cursor "+c, err, projections.ErrInvalidCursor)
		_, err = s.RequestsByStatus(ctx, "", projections.StatusQueued, projections.ListOptions{Limit: 2, Cursor: c})
		wantErr(t, "status list with cursor "+c, err, projections.ErrInvalidCursor)
	}
}

func testPutNewer(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	older := request("r-older", "acme", "alice", projections.StatusQueued, at(0), 2)
	newer := request("r-newer", "acme", "alice", projections.StatusRunning, at(0), 5)
	mustPutRequest(t, s, older, 0)
	mustPutRequest(t, s, newer, 0)
	cOld := connection("c-older", "acme", "alice", 1, map[string]int64{"r-x": 0})
	cNew := connection("c-newer", "acme", "alice", 4, map[string]int64{"r-y": 3})
	mustPutConnection(t, s, cOld, 0)
	mustPutConnection(t, s, cNew, 0)

	upOlder := older
	upOlder.Status, upOlder.Version = projections.StatusCompleted, 4
	downNewer := newer
	downNewer.Status, downNewer.Version = projections.StatusQueued, 3
	fresh := request("r-fresh", "acme", "alice", projections.StatusQueued, at(time.Hour), 1)
	same := newer
	same.Message = "same version, other content"
	upCOld := closed(cOld, "client", at(time.Hour))
	downCNew := connection("c-newer", "acme", "alice", 2, map[string]int64{"r-z": 0})
	freshC := connection("c-fresh", "acme", "alice", 2, map[string]int64{"r-y": 1})
	err := s.PutNewer(ctx, projections.Batch{
		Requests:    []projections.RequestView{upOlder, downNewer, fresh, same},
		Connections: []projections.ConnectionView{upCOld, downCNew, freshC},
	})
	if err != nil {
		t.Fatalf("put newer: %v", err)
	}
	equal(t, "older view raised", getRequest(t, s, "r-older"), upOlder)
	equal(t, "newer view kept", getRequest(t, s, "r-newer"), newer)
	equal(t, "absent view created", getRequest(t, s, "r-fresh"), fresh)
	equal(t, "older connection raised", getConnection(t, s, "c-older"), upCOld)
	equal(t, "newer connection kept", getConnection(t, s, "c-newer"), cNew)
	equal(t, "absent connection created", getConnection(t, s, "c-fresh"), freshC)
	eventually(t, h, "subscribers after put newer", func() error {
		if err := subsAre(ctx, s, "r-x"); err != nil {
			return fmt.Errorf("r-x: %w", err)
		}
		if err := subsAre(ctx, s, "r-z"); err != nil {
			return fmt.Errorf("r-z: %w", err)
		}
		if err := subsAre(ctx, s, "r-y", "c-fresh", "c-newer"); err != nil {
			return fmt.Errorf("r-y: %w", err)
		}
		return usersAre(ctx, s, "acme", "alice", "c-fresh", "c-newer")
	})
	if err := s.PutNewer(ctx, projections.Batch{}); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}
