package streams

import (
	"reflect"
	"testing"
)

func TestReadyShardsFollowsLineage(t *testing.T) {
	shards := []shardInfo{
		{ID: "shard-0"},                      // root, open
		{ID: "shard-1", ParentID: "shard-0"}, // split child
		{ID: "shard-2", ParentID: "shard-0"}, // split child
		{ID: "shard-3", ParentID: "trimmed"}, // parent gone from the stream
		{ID: "shard-4", ParentID: "shard-1"}, // grandchild
	}
	cases := []struct {
		name     string
		finished map[string]bool
		want     []string
	}{
		{"parent first", map[string]bool{}, []string{"shard-0", "shard-3"}},
		{"children after parent drained", map[string]bool{"shard-0": true}, []string{"shard-1", "shard-2", "shard-3"}},
		{"grandchild after child", map[string]bool{"shard-0": true, "shard-1": true, "shard-3": true}, []string{"shard-2", "shard-4"}},
		{"all done", map[string]bool{"shard-0": true, "shard-1": true, "shard-2": true, "shard-3": true, "shard-4": true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := readyShards(shards, tc.finished); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ready = %v, want %v", got, tc.want)
			}
		})
	}
}
