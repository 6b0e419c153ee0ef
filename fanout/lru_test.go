package fanout

import (
	"fmt"
	"sync"
	"testing"
)

func TestOwnerCache(t *testing.T) {
	c := newOwnerCache(2)
	c.put("r1", owner{"t", "u1"})
	c.put("r2", owner{"t", "u2"})
	if o, ok := c.get("r1"); !ok || o.User != "u1" { // r1 is now the most recent
		t.Fatalf("r1: %v %v", o, ok)
	}
	c.put("r3", owner{"t", "u3"}) // evicts r2, the least recently used
	if _, ok := c.get("r2"); ok {
		t.Fatal("r2 kept past the bound")
	}
	for _, id := range []string{"r1", "r3"} {
		if _, ok := c.get(id); !ok {
			t.Fatalf("%s evicted", id)
		}
	}
	c.put("r3", owner{"t", "u3b"})
	if o, _ := c.get("r3"); o.User != "u3b" || c.len() != 2 {
		t.Fatalf("update: %v, len %d", o, c.len())
	}
}

func TestOwnerCacheConcurrent(t *testing.T) {
	c := newOwnerCache(50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("r%d", (g*31+i)%120)
				if o, ok := c.get(id); ok && o.User != "u-"+id {
					t.Errorf("%s: owner %v", id, o)
				}
				c.put(id, owner{"t", "u-" + id})
			}
		})
	}
	wg.Wait()
	if n := c.len(); n != 50 {
		t.Fatalf("len %d, want the bound 50", n)
	}
}
