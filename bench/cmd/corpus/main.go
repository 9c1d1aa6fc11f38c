// Command corpus writes a manifest tree of N kgateway -> Bifrost -> vLLM
// stacks (7 objects each, one in -wrong-every with a mistake gjallar's core
// rules catch) and prints a JSON summary of what it wrote.
//
//	go run ./bench/cmd/corpus -stacks 1000 -out /tmp/corpus
//	go run ./bench/cmd/corpus -objects 100000 -layout bundle -out /tmp/corpus
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/gjallar-dev/gjallar/bench/corpus"
)

func main() {
	var o corpus.Options
	var objects int
	var layout string
	flag.IntVar(&o.Stacks, "stacks", 0, "number of stacks to write (7 objects each)")
	flag.IntVar(&objects, "objects", 0, "write enough stacks for about this many objects (instead of -stacks)")
	flag.StringVar(&o.Out, "out", "", "directory to write into (created; must be empty or absent)")
	flag.StringVar(&layout, "layout", string(corpus.LayoutSplit), "files: split (3 per stack), object (1 per object), bundle (100 stacks per file)")
	flag.IntVar(&o.WrongEvery, "wrong-every", 10, "put a mistake into every Nth stack (0: none)")
	flag.Parse()
	o.Layout = corpus.Layout(layout)
	if objects > 0 {
		o.Stacks = corpus.StacksFor(objects)
	}
	if o.Stacks <= 0 || o.Out == "" {
		fmt.Fprintln(os.Stderr, "usage: corpus (-stacks N | -objects N) -out DIR [-layout split|object|bundle]")
		os.Exit(2)
	}
	s, err := corpus.Write(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}
