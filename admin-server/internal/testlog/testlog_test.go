package testlog

import (
	"fmt"
	"sync"
	"testing"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { _, _ = fmt.Fprintf(&b, "{\"n\":%d}\n", i) })
	}
	wg.Wait()
	if got := len(Lines(t, b.String())); got != 8 {
		t.Fatalf("Lines() = %d lines, want 8:\n%s", got, b.String())
	}
}

func TestLines(t *testing.T) {
	got := Lines(t, "\n{\"a\":1}\n\n{\"b\":\"x\"}\n")
	if len(got) != 2 || got[0]["a"] != float64(1) || got[1]["b"] != "x" {
		t.Fatalf("Lines() = %v", got)
	}
	if got := Lines(t, ""); len(got) != 0 {
		t.Fatalf("Lines(\"\") = %v, want none", got)
	}
}
