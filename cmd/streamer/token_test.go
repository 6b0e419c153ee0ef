package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamer/streamer/auth"
)

// tokenEnv is a getenv with only the given variables.
func tokenEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// runTokenOut runs the token command and returns its output.
func runTokenOut(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	var out bytes.Buffer
	if err := runToken(context.Background(), args, &out, tokenEnv(env)); err != nil {
		t.Fatalf("token %v: %v", args, err)
	}
	return out.String()
}

func TestTokenMintsVerifiableTokens(t *testing.T) {
	dir := t.TempDir()
	pemOut := runTokenOut(t, []string{"--data", dir, "--public-key"}, nil)
	if !strings.HasPrefix(pemOut, "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("--public-key printed %q", pemOut)
	}
	tests := []struct {
		name      string
		args      []string
		cfg       auth.Config
		want      auth.Principal
		verifyErr error
	}{
		{name: "defaults", args: nil, want: auth.Principal{User: "dev", Tenant: "dev"}},
		{name: "user, tenant, permissions",
			args: []string{"--user", "alice", "--tenant", "acme", "--permissions", " audit:read, ,rebuild "},
			want: auth.Principal{User: "alice", Tenant: "acme", Permissions: []string{auth.PermAuditRead, auth.PermRebuild}}},
		{name: "issuer and audience", args: []string{"--issuer", "https://dev.test", "--audience", "streamer"},
			cfg:  auth.Config{Issuer: "https://dev.test", Audience: "streamer"},
			want: auth.Principal{User: "dev", Tenant: "dev"}},
		{name: "missing audience is refused when one is configured", args: nil,
			cfg: auth.Config{Audience: "streamer"}, verifyErr: auth.ErrInvalidToken},
		{name: "short ttl", args: []string{"--ttl", "90s"}, want: auth.Principal{User: "dev", Tenant: "dev"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := runTokenOut(t, append([]string{"--data", dir}, tc.args...), nil)
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || strings.Count(out, ".") != 2 {
				t.Fatalf("output %q is not one token line", out)
			}
			cfg := tc.cfg
			cfg.PublicKeyPEM = pemOut
			v, err := auth.NewVerifier(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), strings.TrimSpace(out))
			if tc.verifyErr != nil {
				if !errors.Is(err, tc.verifyErr) {
					t.Fatalf("Verify err = %v, want %v", err, tc.verifyErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.User != tc.want.User || p.Tenant != tc.want.Tenant || !slices.Equal(p.Permissions, tc.want.Permissions) {
				t.Fatalf("principal = %+v, want %+v", p, tc.want)
			}
		})
	}
	// Every run used the one key.
	if again := runTokenOut(t, []string{"--data", dir, "--public-key"}, nil); again != pemOut {
		t.Fatal("the dev key changed between runs")
	}
	if k, err := auth.LoadOrCreateDevKey(dir); err != nil || k.PublicKeyPEM() != pemOut {
		t.Fatalf("LoadOrCreateDevKey(%s) = another key (%v)", dir, err)
	}
}

func TestTokenDataDirFromEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "from-env")
	out := runTokenOut(t, nil, map[string]string{"STREAMER_DATA_DIR": dir})
	if _, err := os.Stat(filepath.Join(dir, auth.DevKeyFile)); err != nil {
		t.Fatalf("no key in STREAMER_DATA_DIR: %v", err)
	}
	k, err := auth.LoadOrCreateDevKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{PublicKeyPEM: k.PublicKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), strings.TrimSpace(out)); err != nil {
		t.Fatal(err)
	}
	// --data overrides the environment.
	other := filepath.Join(t.TempDir(), "flag")
	runTokenOut(t, []string{"--data", other}, map[string]string{"STREAMER_DATA_DIR": dir})
	if _, err := os.Stat(filepath.Join(other, auth.DevKeyFile)); err != nil {
		t.Fatalf("--data ignored: %v", err)
	}
}

func TestTokenRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "zero ttl", args: []string{"--ttl", "0s"}, want: "ttl"},
		{name: "negative ttl", args: []string{"--ttl", "-1h"}, want: "ttl"},
		{name: "empty user", args: []string{"--user", ""}, want: "user"},
		{name: "empty tenant", args: []string{"--tenant", ""}, want: "tenant"},
		{name: "stray argument", args: []string{"alice"}, want: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--nope"}, want: "not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			var out bytes.Buffer
			err := runToken(context.Background(), append([]string{"--data", dir}, tc.args...), &out, tokenEnv(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on error", out.String())
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a bad command line created the data folder (%v)", err)
			}
		})
	}
	if err := runToken(context.Background(), []string{"-h"}, &bytes.Buffer{}, tokenEnv(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
}
