package webhook

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gjallar-dev/gjallar/rules"
)

func TestDecodedCacheIsBounded(t *testing.T) {
	c := newDecodedCache(8)
	decodes := 0
	decode := func(name string) func() (*rules.Object, error) {
		return func() (*rules.Object, error) {
			decodes++
			return rules.NewObject(map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": name}}), nil
		}
	}
	srcs := map[types.UID]*cachedObject{}
	for i := range 100 {
		uid := types.UID(fmt.Sprint(i))
		srcs[uid] = &cachedObject{}
		obj, err := c.get(uid, srcs[uid], decode(string(uid)))
		if err != nil || obj.Name() != string(uid) {
			t.Fatalf("object %s: got %v, %v", uid, obj, err)
		}
		if len(c.entries) > 8 {
			t.Fatalf("%d entries kept, bound 8", len(c.entries))
		}
	}
	if decodes != 100 {
		t.Errorf("%d decodes for 100 objects", decodes)
	}

	// A kept object is handed out again, with the views computed on it.
	var uid types.UID
	for uid = range c.entries {
		break
	}
	first, _ := c.get(uid, srcs[uid], decode("x"))
	again, _ := c.get(uid, srcs[uid], decode("x"))
	if first != again || decodes != 100 {
		t.Errorf("a kept object was decoded again (%d decodes)", decodes)
	}
	// A new version of it is decoded afresh.
	newer, _ := c.get(uid, &cachedObject{}, decode("newer"))
	if newer.Name() != "newer" || decodes != 101 {
		t.Errorf("a new version was not decoded: %q after %d decodes", newer.Name(), decodes)
	}
	c.forget(uid)
	if _, ok := c.entries[uid]; ok {
		t.Error("a deleted object's entry was kept")
	}
}

func TestDecodedCacheReportsDecodeErrors(t *testing.T) {
	c := newDecodedCache(0)
	_, err := c.get("u", &cachedObject{}, func() (*rules.Object, error) { return nil, errCorrupt })
	if err == nil {
		t.Error("no error from a failed decode")
	}
	if len(c.entries) != 0 {
		t.Error("a failed decode was kept")
	}
}
