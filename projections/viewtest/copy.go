package viewtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

// copyBulk is the number of extra request views the copy test writes, so
// that a backend copying in pages or chunks of a few views crosses several.
const copyBulk = 23

// testCopyViews: CopyViews carries one kind of views over from one
// generation to another by "write if newer", with their indexes, leaves the
// other kind and the source alone, is idempotent, and is fenced.
func testCopyViews(t *testing.T, h Harness) {
	ctx := context.Background()
	g := h.Generations(t)
	m, err := projections.Bootstrap(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	open := func(gen string) projections.ViewStore {
		s, err := g.Open(ctx, gen, 0)
		if err != nil {
			t.Fatalf("open %s: %v", gen, err)
		}
		return s
	}
	src, dst := open("g1"), open("g2")

	// The source generation.
	r1 := fullRequest("r1")
	r2 := request("r2", "acme", "alice", projections.StatusQueued, at(time.Minute), 1)
	r3 := request("r3", "acme", "bob", projections.StatusRunning, at(2*time.Minute), 4)
	srcRequests := []projections.RequestView{r1, r2, r3}
	for i := range copyBulk {
		srcRequests = append(srcRequests, request(fmt.Sprintf("bulk-%02d", i), "globex", "dave", projections.StatusQueued, at(time.Duration(i)*time.Second), 1))
	}
	for _, r := range srcRequests {
		mustPutRequest(t, src, r, 0)
	}
	c1 := connection("c1", "acme", "alice", 3, map[string]int64{"r1": 0, "r2": 2})
	c2 := closed(connection("c2", "acme", "bob", 1, map[string]int64{"r1": 1}), "client", at(time.Hour))
	c2.Subscriptions = map[string]int64{"r1": 1} // kept by the view; a closed one is indexed under none
	c3 := connection("c3", "globex", "carol", 2, map[string]int64{"r1": 0})
	for _, c := range []projections.ConnectionView{c1, c2, c3} {
		mustPutConnection(t, src, c, 0)
	}

	// The target already holds some views, as a projector writing it
	// would: newer ones (kept) and older ones (replaced).
	r2newer := r2
	r2newer.Status, r2newer.Version = projections.StatusRunning, 3
	r3older := r3
	r3older.Status, r3older.Version = projections.StatusQueued, 2
	mustPutRequest(t, dst, r2newer, 0)
	mustPutRequest(t, dst, r3older, 0)
	c1older := connection("c1", "acme", "alice", 1, map[string]int64{"rX": 0})
	c3newer := connection("c3", "globex", "carol", 5, map[string]int64{"r3": 1})
	mustPutConnection(t, dst, c1older, 0)
	mustPutConnection(t, dst, c3newer, 0)

	// Request views only.
	n, err := g.CopyViews(ctx, projections.ViewRequests, "g1", "g2", m.Epoch)
	if err != nil || n != int64(len(srcRequests)) {
		t.Fatalf("copy request views = %d, %v; want the %d of g1", n, err, len(srcRequests))
	}
	wantRequests := map[string]projections.RequestView{}
	for _, r := range srcRequests {
		wantRequests[r.RequestID] = r
	}
	wantRequests["r2"] = r2newer
	for id, want := range wantRequests {
		equal(t, "copied request "+id, getRequest(t, dst, id), want)
	}
	equal(t, "connection c1 after copying requests", getConnection(t, dst, "c1"), c1older)
	if _, err := dst.GetConnection(ctx, "c2"); err == nil {
		t.Fatal("copying request views copied connection c2")
	}
	eventually(t, h, "lists of the copied requests", func() error {
		ids, _, err := listAll(ctx, 10, func(o projections.ListOptions) (projections.RequestPage, error) {
			return dst.RequestsByOwner(ctx, "globex", "dave", o)
		})
		if err != nil {
			return err
		}
		if len(ids) != copyBulk {
			return fmt.Errorf("globex/dave lists %d requests, want %d", len(ids), copyBulk)
		}
		p, err := dst.RequestsByStatus(ctx, "acme", projections.StatusRunning, projections.ListOptions{})
		return idsAre(requestIDs(p), err, "r3", "r2")
	})

	// Connection views, with their indexes.
	n, err = g.CopyViews(ctx, projections.ViewConnections, "g1", "g2", m.Epoch)
	if err != nil || n != 3 {
		t.Fatalf("copy connection views = %d, %v; want the 3 of g1", n, err)
	}
	checkCopiedConnections := func(step string) {
		t.Helper()
		equal(t, step+": connection c1", getConnection(t, dst, "c1"), c1)
		equal(t, step+": connection c2", getConnection(t, dst, "c2"), c2)
		equal(t, step+": connection c3", getConnection(t, dst, "c3"), c3newer)
		eventually(t, h, step+": indexes", func() error {
			for req, want := range map[string][]string{"r1": {"c1"}, "r2": {"c1"}, "r3": {"c3"}, "rX": nil} {
				if err := subsAre(ctx, dst, req, want...); err != nil {
					return err
				}
			}
			if err := usersAre(ctx, dst, "acme", "alice", "c1"); err != nil {
				return err
			}
			if err := usersAre(ctx, dst, "acme", "bob"); err != nil {
				return err
			}
			if err := usersAre(ctx, dst, "globex", "carol", "c3"); err != nil {
				return err
			}
			expired, err := dst.ExpiredConnections(ctx, at(25*time.Hour), 10)
			if err != nil {
				return err
			}
			if len(expired) != 1 || expired[0].ConnectionID != "c2" {
				return fmt.Errorf("expired connections %+v, want c2", expired)
			}
			return nil
		})
	}
	checkCopiedConnections("after the copy")

	// Again, both kinds at once: nothing changes.
	n, err = g.CopyViews(ctx, projections.ViewAll, "g1", "g2", m.Epoch)
	if err != nil || n != int64(len(srcRequests))+3 {
		t.Fatalf("copy every view again = %d, %v; want %d", n, err, len(srcRequests)+3)
	}
	for id, want := range wantRequests {
		equal(t, "request "+id+" after copying again", getRequest(t, dst, id), want)
	}
	checkCopiedConnections("after copying again")

	// The source is untouched.
	equal(t, "source request r3", getRequest(t, src, "r3"), r3)
	equal(t, "source connection c3", getConnection(t, src, "c3"), c3)
	eventually(t, h, "source indexes", func() error {
		if err := subsAre(ctx, src, "r1", "c1", "c3"); err != nil {
			return err
		}
		return subsAre(ctx, src, "r3")
	})

	// Fenced: a copy under a stale epoch writes nothing.
	_, err = g.CopyViews(ctx, projections.ViewAll, "g1", "g3", m.Epoch+1)
	wantErr(t, "copy under a stale fence", err, projections.ErrFenced)
	g3 := open("g3")
	for _, id := range []string{"r1", "r2", "r3"} {
		if _, err := g3.GetRequest(ctx, id); err == nil {
			t.Fatalf("a fenced copy wrote request %s", id)
		}
	}
	if _, err := g3.GetConnection(ctx, "c1"); err == nil {
		t.Fatal("a fenced copy wrote connection c1")
	}
	// Unfenced into a fresh generation: an exact copy.
	if n, err := g.CopyViews(ctx, projections.ViewAll, "g1", "g3", 0); err != nil || n != int64(len(srcRequests))+3 {
		t.Fatalf("unfenced copy into g3 = %d, %v", n, err)
	}
	equal(t, "g3 connection c3", getConnection(t, g3, "c3"), c3)
	equal(t, "g3 request r2", getRequest(t, g3, "r2"), r2)

	wantErr(t, "copy an unknown kind", copyErr(g.CopyViews(ctx, "sessions", "g1", "g2", 0)), projections.ErrUnknownViewKind)
	if _, err := g.CopyViews(ctx, projections.ViewAll, "g1", "g1", 0); err == nil {
		t.Fatal("copying a generation onto itself was allowed")
	}
}

func copyErr(_ int64, err error) error { return err }

func requestIDs(p projections.RequestPage) []string {
	ids := make([]string, 0, len(p.Items))
	for _, v := range p.Items {
		ids = append(ids, v.RequestID)
	}
	return ids
}
