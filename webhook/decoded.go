package webhook

import (
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gjallar-dev/gjallar/rules"
)

// DefaultDecodedObjects is how many cached objects are kept decoded, with
// what the rules derived from them (parsed Bifrost configs, typed pod
// templates), by default: about 10 KiB each, so about 10 MiB, the objects
// admission requests look up in a hundred namespaces or so. An object not
// kept is decoded again when read, for 5 to 50 µs (BENCHMARKS.md).
const DefaultDecodedObjects = 1024

// decodedCache keeps the rules.Object of up to max cached objects, so that
// the objects admission requests keep looking up are decoded, and their
// derived views computed, once per version rather than once per request. It
// is bounded: the cluster's objects are all held compactly by the informers,
// and only this many at a time in decoded form. When full, a random entry
// makes room: unlike least-recently-used, that keeps a share of the entries
// useful when requests cycle through more objects than it holds (a GitOps
// sync re-applying everything in turn).
type decodedCache struct {
	mu      sync.Mutex
	max     int
	entries map[types.UID]decodedEntry
	decodes atomic.Uint64 // for the metrics
}

type decodedEntry struct {
	// src is the informer's object the entry was decoded from; a newer
	// version is a different object.
	src any
	obj *rules.Object
}

func newDecodedCache(max int) *decodedCache {
	if max <= 0 {
		max = DefaultDecodedObjects
	}
	return &decodedCache{max: max, entries: make(map[types.UID]decodedEntry, max)}
}

// get returns the decoded object for src, decoding it with decode when it
// is not held (decode runs outside the lock: objects are decoded in
// parallel, and a racing twin's result is the one kept).
func (c *decodedCache) get(uid types.UID, src any, decode func() (*rules.Object, error)) (*rules.Object, error) {
	c.mu.Lock()
	e, ok := c.entries[uid]
	c.mu.Unlock()
	if ok && e.src == src {
		return e.obj, nil
	}
	obj, err := decode()
	if err != nil {
		return nil, err
	}
	c.decodes.Add(1)
	if uid == "" {
		return obj, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[uid]; ok && e.src == src {
		return e.obj, nil
	}
	if _, ok := c.entries[uid]; !ok && len(c.entries) >= c.max {
		for victim := range c.entries { // map iteration starts at a random entry
			delete(c.entries, victim)
			break
		}
	}
	c.entries[uid] = decodedEntry{src: src, obj: obj}
	return obj, nil
}

// forget drops the entry of a deleted object.
func (c *decodedCache) forget(uid types.UID) {
	c.mu.Lock()
	delete(c.entries, uid)
	c.mu.Unlock()
}

// stats returns how many objects are held decoded and how many decodes
// there have been.
func (c *decodedCache) stats() (held int, decodes uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.decodes.Load()
}
