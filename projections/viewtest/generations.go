package viewtest

import (
	"context"
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

func testMetaSwap(t *testing.T, h Harness) {
	ctx := context.Background()
	g := h.Generations(t)
	m, err := g.Meta(ctx)
	if err != nil || m != (projections.Meta{}) {
		t.Fatalf("fresh meta = %+v, %v; want the zero Meta", m, err)
	}
	first := projections.Meta{Active: "g1", Epoch: 1, UpdatedAt: at(0)}
	stored, err := g.SwapMeta(ctx, 0, first)
	if err != nil {
		t.Fatalf("create meta: %v", err)
	}
	first.Revision = 1
	equal(t, "created meta", stored, first)
	got, err := g.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "read meta", got, first)
	_, err = g.SwapMeta(ctx, 0, projections.Meta{Active: "other", Epoch: 9})
	wantErr(t, "create meta twice", err, projections.ErrViewConflict)

	next := projections.Meta{Active: "g1", Rebuilding: "g2", Previous: "g0", Epoch: 2, Checkpoint: "pos:42", Done: 42,
		Views: projections.ViewConnections, UpdatedAt: at(time.Minute)}
	stored, err = g.SwapMeta(ctx, 1, next)
	if err != nil {
		t.Fatalf("swap at revision 1: %v", err)
	}
	next.Revision = 2
	equal(t, "swapped meta", stored, next)
	_, err = g.SwapMeta(ctx, 1, projections.Meta{Active: "stale"})
	wantErr(t, "swap at a stale revision", err, projections.ErrViewConflict)
	got, err = g.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "meta after a rejected swap", got, next)
}

func testGenerationIsolation(t *testing.T, h Harness) {
	ctx := context.Background()
	g := h.Generations(t)
	open := func(name string) projections.ViewStore {
		s, err := g.Open(ctx, name, 0)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		if s.Generation() != name {
			t.Fatalf("store of %s says generation %q", name, s.Generation())
		}
		return s
	}
	g1, g2 := open("g1"), open("g2")
	r := request("r1", "acme", "alice", projections.StatusQueued, at(0), 1)
	c := connection("c1", "acme", "alice", 2, map[string]int64{"r1": 0})
	mustPutRequest(t, g1, r, 0)
	mustPutConnection(t, g1, c, 0)
	if _, err := g2.GetRequest(ctx, "r1"); err == nil {
		t.Fatal("a view written in g1 is visible in g2")
	}
	r2 := r
	r2.Status, r2.Version = projections.StatusRunning, 5
	mustPutRequest(t, g2, r2, 0)
	equal(t, "g1 view beside g2's", getRequest(t, g1, "r1"), r)
	eventually(t, h, "g2 indexes empty", func() error {
		if err := subsAre(ctx, g2, "r1"); err != nil {
			return err
		}
		return usersAre(ctx, g2, "acme", "alice")
	})

	if err := g.Drop(ctx, "g1"); err != nil {
		t.Fatalf("drop g1: %v", err)
	}
	if _, err := g1.GetRequest(ctx, "r1"); err == nil {
		t.Fatal("request view survived the drop of its generation")
	}
	if _, err := g1.GetConnection(ctx, "c1"); err == nil {
		t.Fatal("connection view survived the drop of its generation")
	}
	eventually(t, h, "g1 indexes after drop", func() error {
		if err := subsAre(ctx, g1, "r1"); err != nil {
			return err
		}
		if err := usersAre(ctx, g1, "acme", "alice"); err != nil {
			return err
		}
		p, err := g1.RequestsByOwner(ctx, "acme", "alice", projections.ListOptions{})
		if err == nil && len(p.Items) != 0 {
			t.Fatalf("dropped generation still lists %d requests", len(p.Items))
		}
		return err
	})
	equal(t, "g2 view after dropping g1", getRequest(t, g2, "r1"), r2)
	// A dropped generation's name can be written again (Drop leaves nothing).
	mustPutRequest(t, g1, r, 0)
}

func testFence(t *testing.T, h Harness) {
	ctx := context.Background()
	g := h.Generations(t)
	r := request("r1", "acme", "alice", projections.StatusQueued, at(0), 1)
	c := connection("c1", "acme", "alice", 1, map[string]int64{"r1": 0})

	// Without Meta, a fenced store cannot write at all.
	orphan, err := g.Open(ctx, "g1", 1)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "fenced put without meta", orphan.PutRequest(ctx, r, 0), projections.ErrFenced)

	m, err := projections.Bootstrap(ctx, g)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	if m.Active != "g1" || m.Epoch != 1 {
		t.Fatalf("bootstrapped meta %+v, want g1 at epoch 1", m)
	}
	live, err := g.Open(ctx, "g1", 1)
	if err != nil {
		t.Fatal(err)
	}
	mustPutRequest(t, live, r, 0)
	mustPutConnection(t, live, c, 0)

	// The generations change: epoch 2.
	next := m
	next.Rebuilding, next.Epoch = "g2", 2
	if _, err := g.SwapMeta(ctx, m.Revision, next); err != nil {
		t.Fatal(err)
	}
	r2 := r
	r2.Version, r2.Status = 2, projections.StatusRunning
	c2 := closed(c, "client", at(time.Hour))
	wantErr(t, "stale fenced request put", live.PutRequest(ctx, r2, 1), projections.ErrFenced)
	wantErr(t, "stale fenced request insert", live.PutRequest(ctx, request("r-new", "acme", "alice", "queued", at(0), 1), 0), projections.ErrFenced)
	wantErr(t, "stale fenced connection put", live.PutConnection(ctx, c2, 1), projections.ErrFenced)
	wantErr(t, "stale fenced put newer", live.PutNewer(ctx, projections.Batch{Requests: []projections.RequestView{r2}}), projections.ErrFenced)
	wantErr(t, "stale fenced delete", live.DeleteConnection(ctx, "c1", 1), projections.ErrFenced)
	equal(t, "request after fenced writes", getRequest(t, live, "r1"), r)
	equal(t, "connection after fenced writes", getConnection(t, live, "c1"), c)
	if _, err := live.GetRequest(ctx, "r-new"); err == nil {
		t.Fatal("a fenced insert created a view")
	}

	current, err := g.Open(ctx, "g1", 2)
	if err != nil {
		t.Fatal(err)
	}
	mustPutRequest(t, current, r2, 1)
	mustPutConnection(t, current, c2, 1)
	if err := current.PutNewer(ctx, projections.Batch{Requests: []projections.RequestView{request("r3", "acme", "alice", "queued", at(0), 1)}}); err != nil {
		t.Fatalf("put newer at the current fence: %v", err)
	}
	unfenced, err := g.Open(ctx, "g1", 0)
	if err != nil {
		t.Fatal(err)
	}
	r3 := r2
	r3.Version = 3
	mustPutRequest(t, unfenced, r3, 2)
	equal(t, "view written unfenced", getRequest(t, current, "r1"), r3)
}
