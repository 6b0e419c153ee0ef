package projections

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SweepExpired deletes up to limit connection views whose ExpiresAt is at or
// before now from every generation the projector writes (the rebuilding one
// too, so a switch does not bring swept views back), and returns how many it
// deleted. Each delete is guarded on the version it listed, so a view that
// changed meanwhile is kept. On DynamoDB, TTL deletes expired items as well;
// the sweep only makes it prompt.
func SweepExpired(ctx context.Context, gens Generations, now time.Time, limit int) (int, error) {
	m, err := Bootstrap(ctx, gens)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, gen := range m.Targets() {
		vs, err := gens.Open(ctx, gen, m.Epoch)
		if err != nil {
			return deleted, fmt.Errorf("open generation %s: %w", gen, err)
		}
		expired, err := vs.ExpiredConnections(ctx, now, limit)
		if err != nil {
			return deleted, fmt.Errorf("sweep generation %s: %w", gen, err)
		}
		for _, v := range expired {
			err := vs.DeleteConnection(ctx, v.ConnectionID, v.Version)
			switch {
			case err == nil:
				deleted++
			case errors.Is(err, ErrViewConflict), errors.Is(err, ErrNotFound):
			default:
				return deleted, fmt.Errorf("sweep generation %s: %w", gen, err)
			}
		}
	}
	return deleted, nil
}
