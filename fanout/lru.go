package fanout

import (
	"container/list"
	"sync"
)

// owner is who a request belongs to: the user who submitted it and their
// tenant. It never changes for a request.
type owner struct {
	Tenant string
	User   string
}

// ownerCache is a bounded LRU map from request ID to owner, safe for
// concurrent use.
type ownerCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // front: most recently used; values are *ownerEntry
	items map[string]*list.Element
}

type ownerEntry struct {
	requestID string
	owner     owner
}

func newOwnerCache(size int) *ownerCache {
	return &ownerCache{size: size, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns the owner of requestID and marks it recently used.
func (c *ownerCache) get(requestID string) (owner, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[requestID]
	if !ok {
		return owner{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*ownerEntry).owner, true
}

// put records the owner of requestID, evicting the least recently used
// entry when the cache is full.
func (c *ownerCache) put(requestID string, o owner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[requestID]; ok {
		el.Value.(*ownerEntry).owner = o
		c.order.MoveToFront(el)
		return
	}
	c.items[requestID] = c.order.PushFront(&ownerEntry{requestID: requestID, owner: o})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*ownerEntry).requestID)
	}
}

// len is the number of cached owners.
func (c *ownerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
