// Command alloycheck reads the lab's Alloy configuration with Alloy's own parser
// (github.com/grafana/alloy/syntax) and prints what the rest of the lab relies on as JSON:
// the stream labels, the structured metadata and the compose projects Alloy ships to Loki.
// Alloy itself cannot run offline; its parser can (make test-alloy, tests/static/test_logql.py).
//
// A module of its own (the repository root has none): go -C monitoring/alloy/check run . [-config path]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	config := flag.String("config", "../config.alloy", "Alloy configuration file (relative to this directory under go -C)")
	flag.Parse()
	if err := run(*config, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(path string, stdout io.Writer) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	file, err := parse(path, src)
	if err != nil {
		return err // file:line:col: message, from Alloy's parser
	}
	s, err := summarize(file)
	if err != nil {
		return err
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	return out.Encode(s)
}
