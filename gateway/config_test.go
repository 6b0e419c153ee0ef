package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	bad := Config{
		Routes:             map[string]Integration{"": nop, "echo": nil},
		Stage:              "has space",
		APIID:              "UPPER12345",
		MaxMessageSize:     -1,
		IdleTimeout:        -time.Second,
		MaxConnectionAge:   -time.Second,
		PostTimeout:        -time.Second,
		IntegrationTimeout: -time.Second,
		MaxPendingPosts:    -1,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("a bad config passed")
	}
	for _, want := range []string{"route key", `route "echo"`, "Stage", "APIID", "MaxMessageSize", "IdleTimeout",
		"MaxConnectionAge", "PostTimeout", "IntegrationTimeout", "MaxPendingPosts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %s: %v", want, err)
		}
	}
	if _, err := New(bad); err == nil {
		t.Fatal("New accepted a bad config")
	}
}

func TestConfigDefaults(t *testing.T) {
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := g.cfg
	if c.Stage != "dev" || c.MaxMessageSize != 128*1024 || c.IdleTimeout != 10*time.Minute ||
		c.MaxConnectionAge != 2*time.Hour || c.PostTimeout != 5*time.Second || c.IntegrationTimeout != 29*time.Second ||
		c.MaxPendingPosts != 64 || c.Logger == nil || !validAPIID(c.APIID) {
		t.Fatalf("defaults: %+v", c)
	}
	routes := map[string]Integration{"echo": nop}
	g, err = New(Config{Routes: routes, Stage: "prod_2", APIID: "abc123def4"})
	if err != nil {
		t.Fatal(err)
	}
	routes["late"] = nop
	if _, ok := g.cfg.Routes["late"]; ok || g.cfg.Stage != "prod_2" || g.cfg.APIID != "abc123def4" {
		t.Fatalf("config not kept as given: %+v", g.cfg)
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newConnectionID()
		if len(id) != 16 || !strings.HasSuffix(id, "=") || strings.ContainsAny(id[:15], "+/=") || seen[id] {
			t.Fatalf("connection ID %q: want 15 letters or digits and '=', unique", id)
		}
		seen[id] = true
		if a := newAPIID(); !validAPIID(a) {
			t.Fatalf("API ID %q", a)
		}
	}
}
