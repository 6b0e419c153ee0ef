package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Meta is the one record that says which generation of the views is which.
// It changes only through Generations.SwapMeta, a compare-and-swap on
// Revision, so a switch of the active generation is one atomic write.
type Meta struct {
	// Active is the generation readers use.
	Active string `json:"active"`
	// Rebuilding is the generation a rebuild is filling, "" when none. While
	// it is set the projector writes to it as well as to Active.
	Rebuilding string `json:"rebuilding,omitempty"`
	// Previous is the generation Active replaced at the last switch, kept
	// until it is dropped.
	Previous string `json:"previous,omitempty"`
	// Epoch grows with every change of Active or Rebuilding. Writers open
	// their stores fenced on it, so that no write aimed at the old set of
	// generations lands after the set changed.
	Epoch int64 `json:"epoch"`
	// Checkpoint is the rebuild's position in its Source (opaque); Done the
	// number of events it has replayed. Both are reset by a switch.
	Checkpoint string `json:"checkpoint,omitempty"`
	Done       int64  `json:"done,omitempty"`
	// Views is the selection the rebuild in progress replays (the other
	// kinds it carries over from Active); "" when none is in progress, and
	// read as ViewAll for a rebuild recorded before the field existed. A
	// rebuild resumes only with the same selection. Reset by a switch.
	Views ViewKind `json:"views,omitempty"`
	// Revision is the compare-and-swap counter, set by the store.
	Revision  int64     `json:"revision"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Targets are the generations a projector writes, in the order it must
// write them: the rebuilding generation first, then the active one. Writing
// the new generation first keeps it at or ahead of the active one for every
// stream, which is what makes the switch invisible to readers.
func (m Meta) Targets() []string {
	if m.Rebuilding != "" && m.Rebuilding != m.Active {
		return []string{m.Rebuilding, m.Active}
	}
	return []string{m.Active}
}

// GenerationName is the name of the generation created at epoch. Epochs
// never repeat, so neither do names.
func GenerationName(epoch int64) string { return "g" + strconv.FormatInt(epoch, 10) }

// Bootstrap returns the Meta record, creating it (active generation "g1",
// epoch 1) when none is stored yet.
func Bootstrap(ctx context.Context, gens Generations) (Meta, error) {
	for {
		m, err := gens.Meta(ctx)
		if err != nil {
			return Meta{}, fmt.Errorf("resolve view generations: %w", err)
		}
		if m.Active != "" {
			return m, nil
		}
		m, err = gens.SwapMeta(ctx, m.Revision, Meta{Active: GenerationName(1), Epoch: 1, UpdatedAt: time.Now().UTC()})
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, ErrViewConflict) {
			return Meta{}, fmt.Errorf("create view meta: %w", err)
		}
	}
}

// DropGeneration drops gen unless it is active or being rebuilt, and
// forgets it as Meta.Previous. Readers that resolved gen before the switch
// away from it may still be reading it: drop only after a grace period
// longer than any read.
func DropGeneration(ctx context.Context, gens Generations, gen string) error {
	for {
		m, err := gens.Meta(ctx)
		if err != nil {
			return fmt.Errorf("read view meta: %w", err)
		}
		if gen == m.Active || gen == m.Rebuilding {
			return fmt.Errorf("drop generation %q: it is in use (active %q, rebuilding %q)", gen, m.Active, m.Rebuilding)
		}
		if err := gens.Drop(ctx, gen); err != nil {
			return fmt.Errorf("drop generation %q: %w", gen, err)
		}
		if m.Previous != gen {
			return nil
		}
		next := m
		next.Previous, next.UpdatedAt = "", time.Now().UTC()
		if _, err := gens.SwapMeta(ctx, m.Revision, next); err == nil || !errors.Is(err, ErrViewConflict) {
			return err
		}
	}
}
