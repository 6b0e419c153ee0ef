package wsapi

import (
	"strings"
	"testing"
)

func TestLRU(t *testing.T) {
	c := newLRU[string, int](2)
	c.put("a", 1, nil)
	c.put("b", 2, nil)
	if v, ok := c.get("a"); !ok || v != 1 { // a is now the most recent
		t.Fatalf("get a = %d %v", v, ok)
	}
	c.put("c", 3, nil) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Error("b survived eviction")
	}
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Errorf("a = %d %v, want kept", v, ok)
	}
	if c.len() != 2 {
		t.Errorf("len %d, want 2", c.len())
	}
	keepNewer := func(v int) func(int) bool { return func(old int) bool { return old > v } }
	c.put("c", 2, keepNewer(2)) // the stored 3 is newer: kept
	if v, _ := c.get("c"); v != 3 {
		t.Errorf("c = %d, want the newer 3 kept", v)
	}
	c.put("c", 4, keepNewer(4))
	if v, _ := c.get("c"); v != 4 {
		t.Errorf("c = %d, want 4", v)
	}
	c.remove("c")
	if _, ok := c.get("c"); ok || c.len() != 1 {
		t.Errorf("c still present after remove (len %d)", c.len())
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{SubscribeWait: -1, MaxSubscriptions: -1, SyncTimeout: -1, CacheSize: -1}.Validate()
	if err == nil {
		t.Fatal("empty config validated")
	}
	for _, want := range []string{"Store", "Reader", "Router", "Verifier", "Poster", "SubscribeWait", "MaxSubscriptions", "SyncTimeout", "CacheSize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // never splits é
		{"héllo", 3, "hé"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
