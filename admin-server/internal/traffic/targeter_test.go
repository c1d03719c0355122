package traffic

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func newTestTargeter(share int, paths ...string) *targeter {
	return &targeter{base: "http://nginx:8080", paths: paths, share: uint64(share), run: "abc123", jobs: new(atomic.Uint64)}
}

// take draws n targets in order.
func take(t *testing.T, tr *targeter, n int) []vegeta.Target {
	t.Helper()
	out := make([]vegeta.Target, n)
	for i := range out {
		if err := tr.next(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestTargeterMix(t *testing.T) {
	tests := []struct {
		name     string
		share    int
		n        int
		wantJobs int
		wantSeq  string // kinds of the first requests: g = GET, j = job
	}{
		{"no jobs", 0, 100, 0, "gggggggggg"},
		{"default 20 percent", 20, 100, 20, "ggggjggggj"},
		{"half", 50, 100, 50, "gjgjgjgjgj"},
		{"one percent", 1, 250, 2, "gggggggggg"},
		{"a third", 33, 300, 99, "gggjggjggj"},
		{"only jobs", 100, 100, 100, "jjjjjjjjjj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := take(t, newTestTargeter(tt.share, "/a", "/b", "/c"), tt.n)
			var seq strings.Builder
			jobs, gets := 0, map[string]int{}
			for i, tgt := range got {
				if kindOf(tgt.Method) == KindJob {
					jobs++
				} else {
					gets[strings.TrimPrefix(tgt.URL, "http://nginx:8080")]++
				}
				if i < len(tt.wantSeq) {
					seq.WriteString(map[string]string{KindGet: "g", KindJob: "j"}[kindOf(tgt.Method)])
				}
			}
			if jobs != tt.wantJobs || seq.String() != tt.wantSeq {
				t.Fatalf("%d jobs in %d requests starting %q, want %d starting %q", jobs, tt.n, seq.String(), tt.wantJobs, tt.wantSeq)
			}
			// The GETs go round-robin: no path gets more than one request over another.
			lo, hi := tt.n, 0
			for _, p := range []string{"/a", "/b", "/c"} {
				lo, hi = min(lo, gets[p]), max(hi, gets[p])
			}
			if tt.wantJobs < tt.n && hi-lo > 1 {
				t.Errorf("GETs per path = %v, want an even spread", gets)
			}
		})
	}
}

func TestTargeterJobRequest(t *testing.T) {
	tr := newTestTargeter(100, "/api/health")
	tgts := take(t, tr, 2)
	tgt := tgts[1]
	if tgt.Method != http.MethodPost || tgt.URL != "http://nginx:8080/api/jobs" {
		t.Fatalf("job target = %s %s", tgt.Method, tgt.URL)
	}
	req, err := tgt.Request()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Content-Type":        "application/json",
		"Idempotency-Key":     "job-traffic-abc123-2",
		"X-Request-ID":        "traffic-abc123-2",
		"X-Synthetic-Traffic": "1",
		"User-Agent":          "infralab-synthetic-traffic",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var body struct {
		Type    string            `json:"type"`
		Payload map[string]string `json:"payload"`
	}
	if err := json.Unmarshal(tgt.Body, &body); err != nil {
		t.Fatalf("body %q: %v", tgt.Body, err)
	}
	if body.Type != "quote" || len(body.Payload) != 1 || body.Payload["item"] != "traffic-2" {
		t.Fatalf("body = %s", tgt.Body)
	}
	// A job's own headers never leak into the shared GET header.
	if commonHeader.Get("Idempotency-Key") != "" || len(commonHeader) != 2 {
		t.Fatalf("shared header changed: %v", commonHeader)
	}
}

// TestTargeterKeysAreUnique draws from several goroutines, as vegeta's workers do, and
// across two attacks of one generator (a settings change restarts the attack).
func TestTargeterKeysAreUnique(t *testing.T) {
	jobs := new(atomic.Uint64)
	var mu sync.Mutex
	keys, ids := map[string]bool{}, map[string]bool{}
	for attack := 0; attack < 2; attack++ {
		tr := &targeter{base: "http://x", paths: []string{"/"}, share: 50, run: "r", jobs: jobs}
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Go(func() {
				for i := 0; i < 100; i++ {
					var tgt vegeta.Target
					if err := tr.next(&tgt); err != nil {
						t.Error(err)
						return
					}
					if tgt.Method != http.MethodPost {
						continue
					}
					mu.Lock()
					k, id := tgt.Header.Get("Idempotency-Key"), tgt.Header.Get("X-Request-ID")
					if k == "" || keys[k] || ids[id] {
						t.Errorf("repeated or empty key %q / request id %q", k, id)
					}
					keys[k], ids[id] = true, true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	if len(keys) != 800 { // 50% of 2 attacks x 8 workers x 100 requests
		t.Fatalf("%d distinct keys, want 800", len(keys))
	}
}

func TestGeneratorRunsDiffer(t *testing.T) {
	a, err := New(discard(), nil, "http://x", false, Mix{Rate: 1, Paths: []string{"/"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(discard(), nil, "http://x", false, Mix{Rate: 1, Paths: []string{"/"}})
	if a.run == b.run || len(a.run) != 12 {
		t.Fatalf("run ids %q and %q: job keys would repeat after a restart", a.run, b.run)
	}
}
