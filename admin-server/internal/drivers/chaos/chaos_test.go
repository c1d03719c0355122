package chaos_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/infra-lab/admin-server/internal/drivers/chaos"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/requestid"
)

// contractService imitates a service's chaos endpoints (docs/contracts/chaos.md).
type contractService struct {
	mu     sync.Mutex
	active map[string]map[string]any
	calls  []string
	fail   int // answer every call with this status when set
	rid    string
}

func (s *contractService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	s.rid = r.Header.Get("X-Request-ID")
	kind := strings.TrimPrefix(r.URL.Path, "/internal/chaos/")
	w.Header().Set("Content-Type", "application/json")
	if s.fail != 0 {
		w.WriteHeader(s.fail)
		_, _ = io.WriteString(w, `{"error":"internal","message":"boom"}`)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if _, ok := s.active[kind]; ok {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":"conflict","message":"`+kind+` already active"}`)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.active[kind] = body
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"fault":{"kind":"`+kind+`"}}`)
	case http.MethodDelete:
		if _, ok := s.active[kind]; !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"not_found","message":"not active"}`)
			return
		}
		delete(s.active, kind)
		_, _ = io.WriteString(w, `{"reverted":["`+kind+`"]}`)
	}
}

func TestChaosDriver(t *testing.T) {
	svc := &contractService{active: map[string]map[string]any{}}
	srv := httptest.NewServer(svc)
	defer srv.Close()
	d := chaos.New(map[string]string{"core-server": srv.URL + "/"}, nil)
	m := faults.NewManager(faults.Options{Drivers: []faults.Driver{d}})
	ctx, actor := requestid.WithID(context.Background(), "rid-chaos-1"), faults.Actor{Name: "test"}

	tests := []struct {
		typ      string
		params   map[string]any
		wantBody map[string]any
	}{
		{"chaos.cpu", nil, map[string]any{"workers": 1.0, "load_percent": 100.0, "duration_seconds": 45.0}},
		{"chaos.memory", map[string]any{"max_mib": 64}, map[string]any{"rate_mib_per_second": 8.0, "max_mib": 64.0, "duration_seconds": 45.0}},
		{"chaos.latency", map[string]any{"delay_ms": 800, "percent": 50}, map[string]any{"delay_ms": 800.0, "jitter_ms": 0.0, "percent": 50.0, "duration_seconds": 45.0}},
		{"chaos.errors", map[string]any{"status": 503}, map[string]any{"percent": 100.0, "status": 503.0, "duration_seconds": 45.0}},
		{"chaos.disk", map[string]any{"size_mib": 10}, map[string]any{"size_mib": 10.0, "duration_seconds": 45.0}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			f, err := m.Inject(ctx, faults.Request{Type: tt.typ, Target: "core-server", Params: tt.params, TTL: 45e9}, actor)
			if err != nil {
				t.Fatalf("Inject() = %v", err)
			}
			kind := strings.TrimPrefix(tt.typ, "chaos.")
			svc.mu.Lock()
			got := svc.active[kind]
			svc.mu.Unlock()
			for k, v := range tt.wantBody {
				if got[k] != v {
					t.Errorf("body[%s] = %v, want %v (body %v)", k, got[k], v, got)
				}
			}
			if len(got) != len(tt.wantBody) {
				t.Errorf("body = %v, want exactly %v", got, tt.wantBody)
			}
			svc.mu.Lock()
			rid := svc.rid
			svc.mu.Unlock()
			if rid != "rid-chaos-1" {
				t.Errorf("X-Request-ID = %q, want the request's id", rid)
			}
			if _, err := m.Revert(ctx, f.ID, actor); err != nil {
				t.Fatalf("Revert() = %v", err)
			}
		})
	}

	// The service's own 409 (a fault injected by someone else) is a backend error.
	svc.mu.Lock()
	svc.active["cpu"] = map[string]any{}
	svc.mu.Unlock()
	_, err := m.Inject(ctx, faults.Request{Type: "chaos.cpu", Target: "core-server"}, actor)
	var be *faults.BackendError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "cpu already active") {
		t.Fatalf("inject over an active kind: %v", err)
	}

	// The fault expired on the service first: DELETE answers 404, which is a success.
	f, err := m.Inject(ctx, faults.Request{Type: "chaos.disk", Target: "core-server"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	delete(svc.active, "disk")
	svc.mu.Unlock()
	if _, err := m.Revert(ctx, f.ID, actor); err != nil {
		t.Fatalf("revert of an already expired fault: %v", err)
	}

	// A 500 on revert keeps the fault active for a retry.
	f, _ = m.Inject(ctx, faults.Request{Type: "chaos.errors", Target: "core-server"}, actor)
	svc.mu.Lock()
	svc.fail = http.StatusInternalServerError
	svc.mu.Unlock()
	if _, err := m.Revert(ctx, f.ID, actor); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("revert against a failing service: %v", err)
	}
	if len(m.Active()) != 1 {
		t.Fatal("a failed revert dropped the fault")
	}
	svc.mu.Lock()
	svc.fail = 0
	svc.mu.Unlock()
	m.Close(ctx) // memory store: reverts at shutdown

	if _, err := m.Validate(faults.Request{Type: "chaos.cpu", Target: "core-server", TTL: 601e9}); err == nil {
		t.Fatal("TTL over the contract's 600 s was accepted")
	}
}
