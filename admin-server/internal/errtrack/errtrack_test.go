package errtrack_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/config"
	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/errtrack/sentrytest"
)

// TestReleaseFromBuild: the options main reports with take the release from
// APP_VERSION (through config.Load, like main) and every event carries it.
func TestReleaseFromBuild(t *testing.T) {
	tests := []struct {
		name        string
		vars        map[string]string
		wantRelease string
		wantEnv     string
	}{
		{name: "image", vars: map[string]string{"APP_VERSION": "6492e4b1c0de", "APP_COMMIT": "6492e4b1c0de0123456789abcdef0123456789ab"},
			wantRelease: "admin-server@6492e4b1c0de", wantEnv: "lab"},
		{name: "dirty image", vars: map[string]string{"APP_VERSION": "6492e4b1c0de-dirty", "SENTRY_ENVIRONMENT": "staging"},
			wantRelease: "admin-server@6492e4b1c0de-dirty", wantEnv: "staging"},
		{name: "developer build", vars: map[string]string{}, wantRelease: "admin-server@dev", wantEnv: "lab"},
		{name: "free text", vars: map[string]string{"APP_VERSION": `v"1\2 x`}, wantRelease: `admin-server@v"1\2 x`, wantEnv: "lab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := sentrytest.Start(t)
			vars := map[string]string{"ADMIN_TOKEN": "errtrack-token-0123", "SENTRY_DSN": rcv.DSN()}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg, err := config.Load(func(k string) string { return vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			opts := errtrack.OptionsFrom(cfg)
			if opts.Release != tt.wantRelease || opts.DSN != rcv.DSN() || opts.Service != "admin-server" {
				t.Fatalf("OptionsFrom() = %+v, want release %q", opts, tt.wantRelease)
			}
			if on, err := errtrack.Init(opts); !on || err != nil {
				t.Fatalf("Init() = %v, %v", on, err)
			}
			t.Cleanup(func() { errtrack.Close(2 * time.Second) })

			errtrack.CaptureFaultFailure(context.Background(), errtrack.FaultFailure{
				ID: "f-" + tt.name, Type: "chaos.cpu", Target: "core-server", Reason: "expired", Attempts: 1,
				Err: errors.New("backend down"),
			})
			ev := rcv.WaitFor(t, 5*time.Second, "for the revert failure", func(ev sentrytest.Event) bool {
				return ev.Tags["fault_id"] == "f-"+tt.name
			})
			if ev.Release != tt.wantRelease || ev.Environment != tt.wantEnv {
				t.Errorf("event release/environment = %q/%q, want %q/%q", ev.Release, ev.Environment, tt.wantRelease, tt.wantEnv)
			}
		})
	}
}
