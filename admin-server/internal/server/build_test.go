package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/errtrack/sentrytest"
	"github.com/infra-lab/admin-server/internal/testlog"
)

// TestBuildVisibleEverywhere wires the server the way main does, from APP_VERSION and
// APP_COMMIT given to config.Load, and finds the build in both health answers, the
// status, build_info on the ops port, the Sentry release, the startup line and every
// log line. Free text must come out escaped, never breaking the JSON or the metric.
func TestBuildVisibleEverywhere(t *testing.T) {
	const token = "build-info-token-0123"
	tests := []struct {
		name                    string
		vars                    map[string]string
		wantVersion, wantCommit string
		wantMetric, wantRelease string
	}{
		{
			name:        "image",
			vars:        map[string]string{"APP_VERSION": "6492e4b1c0de", "APP_COMMIT": "6492e4b1c0de0123456789abcdef0123456789ab"},
			wantVersion: "6492e4b1c0de", wantCommit: "6492e4b1c0de0123456789abcdef0123456789ab",
			wantMetric:  `build_info{commit="6492e4b1c0de0123456789abcdef0123456789ab",service="admin-server",version="6492e4b1c0de"} 1`,
			wantRelease: "admin-server@6492e4b1c0de",
		},
		{
			name:        "developer build",
			vars:        map[string]string{},
			wantVersion: "dev", wantCommit: "unknown",
			wantMetric:  `build_info{commit="unknown",service="admin-server",version="dev"} 1`,
			wantRelease: "admin-server@dev",
		},
		{
			name:        "free text",
			vars:        map[string]string{"APP_VERSION": `6492e4b1c0de-dirty "x"\y`, "APP_COMMIT": "a\nb,c=\"d\"}"},
			wantVersion: `6492e4b1c0de-dirty "x"\y`, wantCommit: "a\nb,c=\"d\"}",
			wantMetric:  `build_info{commit="a\nb,c=\"d\"}",service="admin-server",version="6492e4b1c0de-dirty \"x\"\\y"} 1`,
			wantRelease: `admin-server@6492e4b1c0de-dirty "x"\y`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := sentrytest.Start(t)
			vars := map[string]string{"ADMIN_STATE_DIR": t.TempDir(), "SENTRY_DSN": rcv.DSN()}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg := labConfig(t, token, vars)
			if on, err := errtrack.Init(errtrack.OptionsFrom(cfg)); !on || err != nil {
				t.Fatalf("errtrack.Init = %v, %v", on, err)
			}
			t.Cleanup(func() { errtrack.Close(2 * time.Second) })

			logs := &testlog.Buffer{}
			app, ops, _ := startServer(t, cfg, logs)

			for _, url := range []string{app + "/admin/health", ops + "/health", app + "/admin/api/status"} {
				code, body := get(t, url, token)
				var m map[string]any
				if err := json.Unmarshal([]byte(body), &m); err != nil || code != http.StatusOK {
					t.Fatalf("GET %s = %d %q (%v)", url, code, body, err)
				}
				if m["version"] != tt.wantVersion || m["commit"] != tt.wantCommit {
					t.Errorf("GET %s: version/commit = %#v/%#v, want %q/%q", url, m["version"], m["commit"], tt.wantVersion, tt.wantCommit)
				}
			}

			if _, body := get(t, ops+"/metrics", ""); !strings.Contains(body, "\n"+tt.wantMetric+"\n") {
				t.Errorf("/metrics lacks the line %s", tt.wantMetric)
			}

			// A backend failure (the chaos target's port is closed) is a 502 Sentry reports.
			req, _ := http.NewRequest(http.MethodPost, app+"/admin/api/faults",
				strings.NewReader(`{"type":"chaos.cpu","target":"core-server"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-ID", "rid-build-502")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("inject against a closed port = %d, want 502", resp.StatusCode)
			}
			ev := rcv.WaitFor(t, 5*time.Second, "for the 502", func(ev sentrytest.Event) bool {
				return ev.Tags["request_id"] == "rid-build-502"
			})
			if ev.Release != tt.wantRelease {
				t.Errorf("Sentry release = %q, want %q", ev.Release, tt.wantRelease)
			}

			lines := testlog.Lines(t, logs.String())
			started := false
			for _, l := range lines {
				if l["version"] != tt.wantVersion {
					t.Errorf("log line %q: version = %#v, want %q", l["msg"], l["version"], tt.wantVersion)
				}
				if l["msg"] == "admin-server listening" {
					started = true
					if l["commit"] != tt.wantCommit {
						t.Errorf("startup line commit = %#v, want %q", l["commit"], tt.wantCommit)
					}
				}
			}
			if !started {
				t.Errorf("no startup line in:\n%s", logs.String())
			}
		})
	}
}
