package httpapi

import (
	"net/http"

	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/respond"
)

// Ops holds what the ops-port handlers need. The ops port is not routed by nginx and
// carries no access log: scrapes every few seconds would drown the app's lines.
type Ops struct {
	Service string
	Version string // APP_VERSION
	Commit  string // APP_COMMIT
	Metrics *metrics.Metrics
	Health  *health.Checker
}

type opsHealthBody struct {
	Status  string                        `json:"status"`
	Service string                        `json:"service"`
	Version string                        `json:"version"`
	Commit  string                        `json:"commit"`
	Checks  map[string]health.CheckResult `json:"checks"`
}

// Handler returns the ops-port handler.
func (o *Ops) Handler() http.Handler {
	rt := NewRouter()
	rt.HandleFunc("GET /health", o.health)
	rt.Handle("GET /metrics", o.Metrics.Handler())
	return withRecover(rt)
}

// health answers with every check, so compose healthchecks and people see why it is down.
func (o *Ops) health(w http.ResponseWriter, r *http.Request) {
	rep := o.Health.Run(r.Context())
	code := http.StatusOK
	if !rep.Up() {
		code = http.StatusServiceUnavailable
	}
	respond.JSON(w, code, opsHealthBody{
		Status: rep.Status, Service: o.Service, Version: o.Version, Commit: o.Commit, Checks: rep.Checks,
	})
}
