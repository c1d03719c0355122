package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/errtrack/sentrytest"
)

// TestSentryRevertFailures runs the real wiring against a chaos service that accepts
// faults but fails to revert them: a revert asked for through the API (502) and one
// at TTL expiry (no request) both reach the Sentry receiver with the fault's id, type
// and target as tags; the API one also carries the request's id, and is the only
// event for that request.
func TestSentryRevertFailures(t *testing.T) {
	const token = "sentry-e2e-token-0123"
	chaosSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"kind":"cpu"}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"internal","message":"chaos engine stuck"}`)
	}))
	defer chaosSvc.Close()

	rcv := sentrytest.Start(t)
	cfg := labConfig(t, token, map[string]string{
		"ADMIN_STATE_DIR": t.TempDir(),
		"CHAOS_TARGETS":   "core-server=" + chaosSvc.URL,
		"SENTRY_DSN":      rcv.DSN(),
	})
	if on, err := errtrack.Init(errtrack.OptionsFrom(cfg)); !on || err != nil {
		t.Fatalf("errtrack.Init = %v, %v", on, err)
	}
	t.Cleanup(func() { errtrack.Close(2 * time.Second) })

	app, _, _ := startServer(t, cfg, io.Discard)

	call := func(method, path, reqID, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, app+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Request-ID", reqID)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	faultID := func(m map[string]any) string {
		f, _ := m["fault"].(map[string]any)
		id, _ := f["id"].(string)
		if id == "" {
			t.Fatalf("no fault id in %v", m)
		}
		return id
	}

	// Through the API: 502, one event for the fault that also names the request.
	code, body := call("POST", "/admin/api/faults", "rid-inject-cpu", `{"type":"chaos.cpu","target":"core-server","ttl":60}`)
	if code != http.StatusCreated {
		t.Fatalf("inject = %d %v", code, body)
	}
	cpuID := faultID(body)
	if code, body = call("DELETE", "/admin/api/faults/"+cpuID, "rid-revert-cpu", ""); code != http.StatusBadGateway {
		t.Fatalf("revert with a failing backend = %d %v, want 502", code, body)
	}
	ev := rcv.WaitFor(t, 5*time.Second, "for the failed API revert", func(ev sentrytest.Event) bool { return ev.Tags["fault_id"] == cpuID })
	want := map[string]string{"service": "admin-server", "request_id": "rid-revert-cpu", "fault_id": cpuID,
		"fault_type": "chaos.cpu", "fault_target": "core-server", "revert_reason": "api", "revert_attempts": "1"}
	for k, v := range want {
		if ev.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, ev.Tags[k], v, ev.Tags)
		}
	}
	if m := ev.Main(); m.Type != "*errtrack.RevertError" || !strings.Contains(m.Value, "could not revert fault "+cpuID) || !strings.Contains(m.Value, "chaos engine stuck") {
		t.Errorf("exception = %+v", m)
	}
	if ev.Level != "error" || len(ev.Fingerprint) != 2 || ev.Fingerprint[1] != cpuID {
		t.Errorf("level/fingerprint = %q/%v", ev.Level, ev.Fingerprint)
	}

	// At TTL expiry, with no request around: still reported, with the fault's tags.
	code, body = call("POST", "/admin/api/faults", "rid-inject-latency", `{"type":"chaos.latency","target":"core-server","ttl":1}`)
	if code != http.StatusCreated {
		t.Fatalf("inject = %d %v", code, body)
	}
	latID := faultID(body)
	ev = rcv.WaitFor(t, 5*time.Second, "for the failed expiry revert", func(ev sentrytest.Event) bool { return ev.Tags["fault_id"] == latID })
	if ev.Tags["fault_type"] != "chaos.latency" || ev.Tags["fault_target"] != "core-server" ||
		ev.Tags["revert_reason"] != "expired" || ev.Tags["service"] != "admin-server" || ev.Tags["request_id"] != "" {
		t.Errorf("expiry event tags = %v", ev.Tags)
	}

	if !errtrack.Close(2 * time.Second) {
		t.Fatal("flush timed out")
	}
	n := 0
	for _, ev := range rcv.Events() {
		switch ev.Tags["request_id"] {
		case "rid-revert-cpu":
			n++
		case "rid-inject-cpu", "rid-inject-latency":
			t.Errorf("a successful request was reported: %s", ev.Raw)
		}
	}
	if n != 1 {
		t.Errorf("%d events for the failed revert request, want 1 (the fault event stands for the 502)", n)
	}
}
