package traffic

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		rate    int
		paths   []string
		wantErr string
	}{
		{"ok", 2, []string{"/api/health"}, ""},
		{"zero rate is off", 0, []string{"/"}, ""},
		{"max", MaxRate, []string{"/"}, ""},
		{"over max", MaxRate + 1, []string{"/"}, "rate_per_second: must be between 0 and 50"},
		{"negative", -1, []string{"/"}, "rate_per_second"},
		{"no paths", 1, nil, "paths: give 1 to 16"},
		{"absolute url", 1, []string{"http://elsewhere/"}, "must be an absolute path"},
		{"scheme-relative", 1, []string{"//elsewhere/x"}, "must be an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.rate, tt.paths)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestGeneratorSendsBoundedTraffic(t *testing.T) {
	var hits atomic.Int64
	var synthetic atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		synthetic.Store(r.Header.Get("X-Synthetic-Traffic") == "1")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	g, err := New(slog.New(slog.DiscardHandler), reg, srv.URL, false, 20, []string{"/ok", "/fail"})
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
	if n < 10 || n > 25 { // 20/s for ~1 s
		t.Fatalf("sent %d requests in ~1 s at 20/s", n)
	}
	if !synthetic.Load() {
		t.Error("requests lack X-Synthetic-Traffic")
	}
	time.Sleep(100 * time.Millisecond)
	if hits.Load() != n {
		t.Fatal("requests continued after Close")
	}
	st := g.Status()
	if st.Running || st.Sent != uint64(n) || st.Failed == 0 || st.Failed == st.Sent {
		t.Fatalf("status = %+v (hits %d)", st, n)
	}
	if got := testutil.ToFloat64(g.results.WithLabelValues("503")); got != float64(st.Failed) {
		t.Errorf("503 counter = %v, want %d", got, st.Failed)
	}
	if got := testutil.ToFloat64(g.rateG); got != 0 {
		t.Errorf("rate gauge after Close = %v", got)
	}
}
