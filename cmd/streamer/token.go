package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/streamer/streamer/auth"
)

// runToken mints a development token with the dev key of the data folder
// (created on first use; `streamer dev` verifies with the same key) and
// prints it on one line, or prints the public key with --public-key.
func runToken(_ context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	dataDir := getenv("STREAMER_DATA_DIR")
	if dataDir == "" {
		dataDir = ".data"
	}
	fs.StringVar(&dataDir, "data", dataDir, "data folder holding the development key ("+auth.DevKeyFile+"), shared with 'streamer dev'")
	spec := auth.TokenSpec{}
	fs.StringVar(&spec.User, "user", "dev", "user (claim sub)")
	fs.StringVar(&spec.Tenant, "tenant", "dev", "tenant (claim tenant)")
	perms := fs.String("permissions", "", "comma-separated permissions, e.g. "+auth.PermAuditRead+","+auth.PermRebuild)
	fs.DurationVar(&spec.TTL, "ttl", 24*time.Hour, "lifetime of the token (claim exp)")
	fs.StringVar(&spec.Issuer, "issuer", "", "claim iss (match JWT_ISSUER when the verifier sets one)")
	fs.StringVar(&spec.Audience, "audience", "", "claim aud (match JWT_AUDIENCE when the verifier sets one)")
	publicKey := fs.Bool("public-key", false, "print the development public key (PEM, for JWT_PUBLIC_KEY) instead of a token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	spec.Permissions = splitPermissions(*perms)
	if !*publicKey {
		// Check the flags before creating a key in a folder the user may
		// have mistyped.
		if err := spec.Validate(); err != nil {
			return err
		}
	}
	key, err := auth.LoadOrCreateDevKey(dataDir)
	if err != nil {
		return err
	}
	if *publicKey {
		_, err := io.WriteString(stdout, key.PublicKeyPEM())
		return err
	}
	tok, err := key.Mint(spec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// splitPermissions splits the comma-separated --permissions value, dropping blanks.
func splitPermissions(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
