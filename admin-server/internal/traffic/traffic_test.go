package traffic

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mix     Mix
		wantErr string
	}{
		{"ok", Mix{Rate: 2, Paths: []string{"/api/health"}, JobShare: 20}, ""},
		{"zero rate is off", Mix{Rate: 0, Paths: []string{"/"}}, ""},
		{"max", Mix{Rate: MaxRate, Paths: []string{"/"}}, ""},
		{"over max", Mix{Rate: MaxRate + 1, Paths: []string{"/"}}, "rate_per_second: must be between 0 and 50"},
		{"negative", Mix{Rate: -1, Paths: []string{"/"}}, "rate_per_second"},
		{"no jobs", Mix{Rate: 1, Paths: []string{"/"}, JobShare: 0}, ""},
		{"only jobs", Mix{Rate: 1, Paths: []string{"/"}, JobShare: 100}, ""},
		{"job share over 100", Mix{Rate: 1, Paths: []string{"/"}, JobShare: 101}, "job_share: must be a percentage between 0 and 100, got 101"},
		{"negative job share", Mix{Rate: 1, Paths: []string{"/"}, JobShare: -5}, "job_share: must be a percentage between 0 and 100, got -5"},
		{"no paths", Mix{Rate: 1}, "paths: give 1 to 16"},
		{"absolute url", Mix{Rate: 1, Paths: []string{"http://elsewhere/"}}, "must be an absolute path"},
		{"scheme-relative", Mix{Rate: 1, Paths: []string{"//elsewhere/x"}}, "must be an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.mix.validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestApplyKeepsUnsetFieldsAndRejectsBadShare(t *testing.T) {
	g, err := New(discard(), nil, "http://127.0.0.1:9", false, Mix{Rate: 2, Paths: []string{"/a"}, JobShare: 20})
	if err != nil {
		t.Fatal(err)
	}
	share := 101
	if _, err := g.Apply(Settings{JobShare: &share}); err == nil || !strings.HasPrefix(err.Error(), "job_share:") {
		t.Fatalf("Apply(job_share=101) = %v", err)
	}
	share = 0
	st, err := g.Apply(Settings{JobShare: &share})
	if err != nil || st.JobShare != 0 || st.RatePerSecond != 2 || st.Paths[0] != "/a" || st.JobPath != "/api/jobs" {
		t.Fatalf("Apply(job_share=0) = %+v, %v", st, err)
	}
}

// TestGeneratorSendsBoundedTraffic runs a real attack at the maximum rate for about a
// second against a local server and checks both kinds arrive, are counted and stop.
func TestGeneratorSendsBoundedTraffic(t *testing.T) {
	var mu sync.Mutex
	perKind := map[string]int{}
	var hits atomic.Int64
	var badJob atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		kind := KindGet
		if r.Method == http.MethodPost && r.URL.Path == JobPath {
			kind = KindJob
			body, _ := io.ReadAll(r.Body)
			if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") == "" ||
				!strings.HasPrefix(r.Header.Get("X-Request-ID"), "traffic-") || !strings.Contains(string(body), `"type":"quote"`) {
				badJob.Store(r.Header.Clone())
			}
			w.WriteHeader(http.StatusAccepted)
		}
		if r.Header.Get("X-Synthetic-Traffic") != "1" {
			badJob.Store(r.Header.Clone())
		}
		mu.Lock()
		perKind[kind]++
		mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	g, err := New(discard(), reg, srv.URL, false, Mix{Rate: MaxRate, Paths: []string{"/ok", "/fail"}, JobShare: 20})
	if err != nil {
		t.Fatal(err)
	}
	g.Start() // disabled: nothing is sent
	time.Sleep(100 * time.Millisecond)
	if hits.Load() != 0 {
		t.Fatal("a disabled generator sent requests")
	}
	on := true
	if _, err := g.Apply(Settings{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	g.Close()
	n := hits.Load()
	if n < 25 || n > MaxRate+10 { // 50/s for ~1 s, on a shared CPU
		t.Fatalf("sent %d requests in ~1 s at %d/s", n, MaxRate)
	}
	if h := badJob.Load(); h != nil {
		t.Errorf("a request lacked the synthetic or job headers: %v", h)
	}
	time.Sleep(100 * time.Millisecond)
	if hits.Load() != n {
		t.Fatal("requests continued after Close")
	}
	st := g.Status()
	mu.Lock()
	defer mu.Unlock()
	if perKind[KindJob] == 0 || perKind[KindGet] == 0 {
		t.Fatalf("server saw %v, want both kinds", perKind)
	}
	for kind, c := range st.ByKind {
		if c.Sent != uint64(perKind[kind]) {
			t.Errorf("status %s sent = %d, server saw %d", kind, c.Sent, perKind[kind])
		}
	}
	if st.Running || st.Sent != uint64(n) || st.ByKind[KindGet].Failed == 0 || st.ByKind[KindJob].Failed != 0 || st.Failed != st.ByKind[KindGet].Failed {
		t.Fatalf("status = %+v (hits %d)", st, n)
	}
	if got := testutil.ToFloat64(g.results.WithLabelValues("503", KindGet)); got != float64(st.Failed) {
		t.Errorf("503 get counter = %v, want %d", got, st.Failed)
	}
	if got := testutil.ToFloat64(g.results.WithLabelValues("202", KindJob)); got != float64(perKind[KindJob]) {
		t.Errorf("202 job counter = %v, want %d", got, perKind[KindJob])
	}
	if got := testutil.ToFloat64(g.rateG); got != 0 {
		t.Errorf("rate gauge after Close = %v", got)
	}
}
