package streams

import "sort"

// shardInfo is what the poller knows of one shard.
type shardInfo struct {
	ID       string
	ParentID string
}

// readyShards returns, in a stable order, the shards that may be read now:
// not finished, and whose parent is finished or unknown (trimmed from the
// stream, or never seen). Reading a child only after its parent is drained
// keeps every item's records in order across a shard split — the guarantee
// Lambda gives.
func readyShards(shards []shardInfo, finished map[string]bool) []string {
	known := make(map[string]bool, len(shards))
	for _, s := range shards {
		known[s.ID] = true
	}
	var ready []string
	for _, s := range shards {
		if finished[s.ID] {
			continue
		}
		if s.ParentID != "" && known[s.ParentID] && !finished[s.ParentID] {
			continue
		}
		ready = append(ready, s.ID)
	}
	sort.Strings(ready)
	return ready
}
