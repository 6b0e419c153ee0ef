// Package localfront starts what both local stacks (app/embedded on
// SQLite, app/awsdev on the AWS adapters) put in front of their storage:
// the token check (a configured key, or a development key kept in the data
// folder), the handlers (the demo ones unless given), the core, and the
// loopback front (gateway, @connections, HTTP API) routed to it.
package localfront

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/frontposter"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// Options configure Start. Core's Store and Reader are required; its
// Poster, Router and Verifier are filled in by Start.
type Options struct {
	Addr    string      // listen address; default 127.0.0.1:0
	DataDir string      // where the development key is kept
	Auth    auth.Config // zero: the development key in DataDir
	Router  *handler.Router
	Demo    demo.Options // demo handler tuning when Router is nil
	Gateway app.GatewayOptions
	Core    app.CoreConfig
	Logger  *slog.Logger
}

// Started is what Start built; the caller serves Front (Front.Serve) and
// closes it.
type Started struct {
	Front    *app.Front
	Core     *app.Core
	Verifier *auth.Verifier
	DevKey   *auth.DevKey // nil when Auth was configured
}

// Start builds the verifier, the router, the core and the front.
func Start(ctx context.Context, o Options) (*Started, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	st := &Started{}
	authCfg := o.Auth
	if authCfg.PublicKeyPEM == "" && authCfg.JWKSURL == "" {
		key, err := auth.LoadOrCreateDevKey(o.DataDir)
		if err != nil {
			return nil, err
		}
		st.DevKey = key
		authCfg.PublicKeyPEM = key.PublicKeyPEM()
	}
	verifier, err := auth.NewVerifier(ctx, authCfg)
	if err != nil {
		return nil, err
	}
	st.Verifier = verifier
	router := o.Router
	if router == nil {
		router = handler.NewRouter()
		if err := demo.Register(router, o.Demo); err != nil {
			return nil, err
		}
	}
	front, err := app.Listen(o.Addr, o.Logger)
	if err != nil {
		return nil, err
	}
	cc := o.Core
	cc.Poster, cc.Router, cc.Verifier, cc.Logger = frontposter.New(front), router, verifier, o.Logger
	core, err := app.NewCore(cc)
	if err == nil {
		err = front.Mount(core, verifier.Verify, o.Gateway)
	}
	if err != nil {
		front.Close(ctx)
		return nil, err
	}
	st.Front, st.Core = front, core
	return st, nil
}

// Token mints a development token with the key Start made, valid 24 h.
func (s *Started) Token(user, tenant string, permissions ...string) (string, error) {
	if s.DevKey == nil {
		return "", errors.New("the stack verifies configured keys; it cannot mint tokens")
	}
	return s.DevKey.Mint(auth.TokenSpec{User: user, Tenant: tenant, Permissions: permissions, TTL: 24 * time.Hour})
}
