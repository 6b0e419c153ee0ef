package viewtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

func testConnectionRoundTrip(t *testing.T, h Harness) {
	s := h.New(t)
	open := connection("c-open", "acme", "alice", 3, map[string]int64{"r1": 0, "r2": 17, "r-✓": 4})
	mustPutConnection(t, s, open, 0)
	equal(t, "open connection", getConnection(t, s, "c-open"), open)

	shut := closed(open, "gone", at(time.Hour+1))
	mustPutConnection(t, s, shut, 3)
	equal(t, "closed connection", getConnection(t, s, "c-open"), shut)

	bare := projections.ConnectionView{ConnectionID: "c-bare", Status: projections.ConnectionOpen, Version: 1}
	mustPutConnection(t, s, bare, 0)
	equal(t, "bare connection", getConnection(t, s, "c-bare"), bare)
}

func testConnectionVersionGuard(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	v1 := connection("c1", "acme", "alice", 1, nil)
	mustPutConnection(t, s, v1, 0)
	v2 := connection("c1", "acme", "alice", 2, map[string]int64{"r1": 0})
	for _, expected := range []int64{0, 2} {
		wantErr(t, fmt.Sprintf("put at expected %d onto version 1", expected), s.PutConnection(ctx, v2, expected), projections.ErrViewConflict)
	}
	equal(t, "view after rejected puts", getConnection(t, s, "c1"), v1)
	// The rejected puts left no index entries behind.
	eventually(t, h, "no subscriber after rejected puts", func() error { return subsAre(ctx, s, "r1") })
	mustPutConnection(t, s, v2, 1)
	eventually(t, h, "subscriber after the guarded put", func() error { return subsAre(ctx, s, "r1", "c1") })
	wantErr(t, "delete at a stale version", s.DeleteConnection(ctx, "c1", 1), projections.ErrViewConflict)
	equal(t, "view after a rejected delete", getConnection(t, s, "c1"), v2)
}

func testIndexes(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	c1 := connection("c1", "acme", "alice", 3, map[string]int64{"r1": 0, "r2": 5})
	c2 := connection("c2", "acme", "alice", 2, map[string]int64{"r1": 2})
	c3 := connection("c3", "globex", "alice", 2, map[string]int64{"r1": 0})
	c4 := connection("c4", "acme", "bob", 1, nil)
	for _, c := range []projections.ConnectionView{c1, c2, c3, c4} {
		mustPutConnection(t, s, c, 0)
	}
	check := func(step string, subs map[string][]string, users map[[2]string][]string) {
		t.Helper()
		eventually(t, h, step, func() error {
			for req, want := range subs {
				got, err := s.Subscribers(ctx, req)
				if err := idsAre(got, err, want...); err != nil {
					return fmt.Errorf("subscribers of %s: %w", req, err)
				}
			}
			for tu, want := range users {
				got, err := s.UserConnections(ctx, tu[0], tu[1])
				if err := idsAre(got, err, want...); err != nil {
					return fmt.Errorf("connections of %s/%s: %w", tu[0], tu[1], err)
				}
			}
			return nil
		})
	}
	check("after open", map[string][]string{"r1": {"c1", "c2", "c3"}, "r2": {"c1"}, "r3": nil},
		map[[2]string][]string{{"acme", "alice"}: {"c1", "c2"}, {"globex", "alice"}: {"c3"}, {"acme", "bob"}: {"c4"}})

	// Unsubscribe c1 from r1, subscribe it to r3.
	c1b := c1
	c1b.Subscriptions, c1b.Version = map[string]int64{"r2": 5, "r3": 1}, 4
	mustPutConnection(t, s, c1b, 3)
	check("after c1 changes subscriptions", map[string][]string{"r1": {"c2", "c3"}, "r2": {"c1"}, "r3": {"c1"}}, nil)

	// Closing c2 removes it from both indexes.
	mustPutConnection(t, s, closed(c2, "client", at(time.Hour)), 2)
	check("after c2 closes", map[string][]string{"r1": {"c3"}},
		map[[2]string][]string{{"acme", "alice"}: {"c1"}, {"acme", "bob"}: {"c4"}})

	// Deleting c3 removes it as well.
	if err := s.DeleteConnection(ctx, "c3", 2); err != nil {
		t.Fatalf("delete c3: %v", err)
	}
	check("after c3 is deleted", map[string][]string{"r1": nil}, map[[2]string][]string{{"globex", "alice"}: nil})
	if _, err := s.GetConnection(ctx, "c3"); err == nil {
		t.Fatal("deleted connection still readable")
	}
}

func testExpiry(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	now := at(48 * time.Hour)
	mk := func(id string, expires time.Time, open bool) projections.ConnectionView {
		v := connection(id, "acme", "alice", 2, map[string]int64{"r1": 0})
		if !open {
			v = closed(v, "idle", expires.Add(-24*time.Hour))
		}
		v.ExpiresAt = expires
		mustPutConnection(t, s, v, 0)
		return v
	}
	late := mk("c-expired-late", now.Add(-time.Hour), false)
	early := mk("c-expired-early", now.Add(-2*time.Hour), false)
	stale := mk("c-open-stale", now.Add(-time.Minute), true)
	mk("c-closed-fresh", now.Add(time.Hour), false)
	mk("c-open-fresh", now.Add(2*time.Hour), true)
	exact := mk("c-exact", now, false)

	var got []projections.ConnectionView
	eventually(t, h, "expired connections", func() error {
		var err error
		got, err = s.ExpiredConnections(ctx, now, 10)
		if err != nil {
			return err
		}
		if len(got) != 4 {
			return fmt.Errorf("%d expired views, want 4", len(got))
		}
		return nil
	})
	equal(t, "expired views, soonest first", got, []projections.ConnectionView{early, late, stale, exact})
	one, err := s.ExpiredConnections(ctx, now, 1)
	if err != nil || len(one) != 1 || one[0].ConnectionID != early.ConnectionID {
		t.Fatalf("expired with limit 1 = %v, %v; want %s", one, err, early.ConnectionID)
	}
	for _, v := range got {
		if err := s.DeleteConnection(ctx, v.ConnectionID, v.Version); err != nil {
			t.Fatalf("delete expired %s: %v", v.ConnectionID, err)
		}
	}
	eventually(t, h, "nothing expired after the sweep", func() error {
		left, err := s.ExpiredConnections(ctx, now, 10)
		if err == nil && len(left) != 0 {
			err = fmt.Errorf("%d views still expired", len(left))
		}
		return err
	})
	eventually(t, h, "index after the sweep", func() error {
		if err := subsAre(ctx, s, "r1", "c-open-fresh"); err != nil {
			return err
		}
		return usersAre(ctx, s, "acme", "alice", "c-open-fresh")
	})
	getConnection(t, s, "c-closed-fresh")
}
