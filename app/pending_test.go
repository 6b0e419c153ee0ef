package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/projections"
	pvsqlite "github.com/streamer/streamer/projections/sqlite"
)

// PendingRequests lists every queued and running request of every tenant,
// oldest first, across pages, and nothing that has ended.
func TestPendingRequests(t *testing.T) {
	ctx := context.Background()
	views, err := pvsqlite.Open(ctx, filepath.Join(t.TempDir(), "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer views.Close()
	m, err := projections.Bootstrap(ctx, views)
	if err != nil {
		t.Fatal(err)
	}
	store, err := views.Open(ctx, m.Active, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	statuses := []string{projections.StatusQueued, projections.StatusRunning, "completed", "failed", "cancelled", "timed_out"}
	var b projections.Batch
	var want []string
	// More open requests than one page (MaxListLimit), submitted in an
	// order that is neither the IDs' nor the statuses'.
	n := 2*projections.MaxListLimit + 7
	for i := range n {
		status := statuses[i%len(statuses)]
		if i%3 == 0 {
			status = projections.StatusRunning
		}
		submitted := base.Add(time.Duration((i*7919)%n) * time.Second)
		id := fmt.Sprintf("r%05d", n-i)
		b.Requests = append(b.Requests, projections.RequestView{
			RequestID: id, Action: "echo", Status: status, Owner: "u", Tenant: fmt.Sprintf("t%d", i%4),
			SubmittedAt: submitted, UpdatedAt: submitted, Version: 1,
		})
	}
	if err := store.PutNewer(ctx, b); err != nil {
		t.Fatal(err)
	}
	open := slices.Clone(b.Requests)
	open = slices.DeleteFunc(open, func(v projections.RequestView) bool {
		return v.Status != projections.StatusQueued && v.Status != projections.StatusRunning
	})
	slices.SortFunc(open, func(a, b projections.RequestView) int { return a.SubmittedAt.Compare(b.SubmittedAt) })
	for _, v := range open {
		want = append(want, v.RequestID)
	}
	if len(want) <= projections.MaxListLimit {
		t.Fatalf("only %d open requests: the test must cross a page", len(want))
	}

	got, err := app.PendingRequests(projections.NewReader(views))(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d requests, want %d, oldest first; first got %v, want %v", len(got), len(want), got[:min(5, len(got))], want[:5])
	}
}
