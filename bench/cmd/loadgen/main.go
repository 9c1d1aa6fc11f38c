// Command loadgen measures an admission webhook under load: it sends
// AdmissionReview requests over TLS (HTTP/1.1 keep-alive, as the API server
// does) at fixed rates, open loop, and then as fast as a fixed number of
// clients can, and reports latency percentiles, throughput and errors. It
// also serves the floor the webhook is compared against.
//
//	loadgen floor -addr 127.0.0.1:9444 -cert-dir DIR
//	loadgen run -targets floor=https://127.0.0.1:9444,gjallar=https://127.0.0.1:9443 -ca DIR/ca.crt
//
// Only loopback addresses are accepted, for both.
// compare, port and wait are helpers for bench/run.sh.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "floor":
		err = floorMain(os.Args[2:])
	case "run":
		err = runMain(os.Args[2:])
	case "compare":
		err = compareMain(os.Args[2:])
	case "port":
		err = portMain()
	case "wait":
		err = waitMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: loadgen floor -addr 127.0.0.1:PORT -cert-dir DIR
       loadgen run -targets LABEL=https://127.0.0.1:PORT,... -ca FILE [-rates 250,500,1000,2000] [-duration 5s] [-repeat 2] [-json FILE]
       loadgen compare [-base floor] FILE   (a Markdown table of run -json output)
       loadgen port                         (print a free port on 127.0.0.1)
       loadgen wait -url http://127.0.0.1:PORT/readyz`)
	os.Exit(2)
}
