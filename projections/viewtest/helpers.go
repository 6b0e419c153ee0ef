package viewtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

// base is the suite's clock: UTC with nanoseconds, as views hold times.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// fullRequest is a request view with every field set.
func fullRequest(id string) projections.RequestView {
	return projections.RequestView{
		RequestID:       id,
		Action:          "generate_report",
		Status:          projections.StatusFailed,
		Percentage:      37.5,
		Message:         "step 3 of 8 ✓ <&>",
		Result:          json.RawMessage(`{"rows": [1, 2.50, "x"], "ok" : true}`),
		Error:           &projections.RequestError{Code: "handler_error", Message: "boom", Retryable: true},
		Owner:           "alice",
		Tenant:          "acme",
		Attempt:         3,
		CancelRequested: true,
		SubmittedAt:     at(0),
		StartedAt:       at(time.Second + 1),
		UpdatedAt:       at(2*time.Second + 2),
		CompletedAt:     at(3*time.Second + 3),
		Version:         9,
	}
}

// request is a minimal queued request view.
func request(id, tenant, owner, status string, submitted time.Time, version int64) projections.RequestView {
	return projections.RequestView{RequestID: id, Action: "echo", Status: status, Owner: owner, Tenant: tenant,
		SubmittedAt: submitted, UpdatedAt: submitted, Version: version}
}

// connection is an open connection view.
func connection(id, tenant, user string, version int64, subs map[string]int64) projections.ConnectionView {
	return projections.ConnectionView{ConnectionID: id, User: user, Tenant: tenant, Status: projections.ConnectionOpen,
		ConnectedAt: at(0), LastSeen: at(time.Duration(version) * time.Second), ExpiresAt: at(26 * time.Hour),
		Subscriptions: subs, Version: version}
}

func closed(v projections.ConnectionView, reason string, when time.Time) projections.ConnectionView {
	v.Status, v.CloseReason, v.Subscriptions = projections.ConnectionClosed, reason, nil
	v.LastSeen, v.ExpiresAt = when, when.Add(24*time.Hour)
	v.Version++
	return v
}

func mustPutRequest(t *testing.T, s projections.ViewStore, v projections.RequestView, expected int64) {
	t.Helper()
	if err := s.PutRequest(context.Background(), v, expected); err != nil {
		t.Fatalf("put request %s v%d at %d: %v", v.RequestID, v.Version, expected, err)
	}
}

func mustPutConnection(t *testing.T, s projections.ViewStore, v projections.ConnectionView, expected int64) {
	t.Helper()
	if err := s.PutConnection(context.Background(), v, expected); err != nil {
		t.Fatalf("put connection %s v%d at %d: %v", v.ConnectionID, v.Version, expected, err)
	}
}

func getRequest(t *testing.T, s projections.ViewReader, id string) projections.RequestView {
	t.Helper()
	v, err := s.GetRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("get request %s: %v", id, err)
	}
	return v
}

func getConnection(t *testing.T, s projections.ViewReader, id string) projections.ConnectionView {
	t.Helper()
	v, err := s.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatalf("get connection %s: %v", id, err)
	}
	return v
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want errors.Is %v", what, err, target)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// eventually runs check once, or — for a backend with eventual indexes —
// until it passes or IndexLag has gone by.
func eventually(t *testing.T, h Harness, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(h.Features.IndexLag)
	for {
		err := check()
		if err == nil {
			return
		}
		if !h.Features.EventualIndexes || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids checks an index query's answer.
func idsAre(got []string, err error, want ...string) error {
	if err != nil {
		return err
	}
	if len(got) == 0 && len(want) == 0 {
		return nil
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// listAll pages through a request list with limit, checking page sizes,
// and returns every item's ID in order.
func listAll(ctx context.Context, limit int, list func(projections.ListOptions) (projections.RequestPage, error)) ([]string, int, error) {
	var (
		out    []string
		cursor string
		pages  int
	)
	for {
		p, err := list(projections.ListOptions{Limit: limit, Cursor: cursor})
		if err != nil {
			return nil, pages, fmt.Errorf("page %d: %w", pages+1, err)
		}
		pages++
		if limit > 0 && len(p.Items) > limit {
			return nil, pages, fmt.Errorf("page %d holds %d items, limit %d", pages, len(p.Items), limit)
		}
		for _, v := range p.Items {
			out = append(out, v.RequestID)
		}
		if p.Cursor == "" {
			return out, pages, nil
		}
		if pages > 1000 {
			return nil, pages, errors.New("pagination does not end")
		}
		cursor = p.Cursor
	}
}

// subsAre checks the subscribers of req.
func subsAre(ctx context.Context, s projections.ViewReader, req string, want ...string) error {
	got, err := s.Subscribers(ctx, req)
	if err := idsAre(got, err, want...); err != nil {
		return fmt.Errorf("subscribers of %s: %w", req, err)
	}
	return nil
}

// usersAre checks the open connections of tenant/user.
func usersAre(ctx context.Context, s projections.ViewReader, tenant, user string, want ...string) error {
	got, err := s.UserConnections(ctx, tenant, user)
	if err := idsAre(got, err, want...); err != nil {
		return fmt.Errorf("connections of %s/%s: %w", tenant, user, err)
	}
	return nil
}
