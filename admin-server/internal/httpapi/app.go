package httpapi

import (
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/health"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/metrics"
	"github.com/infra-lab/admin-server/internal/ratelimit"
	"github.com/infra-lab/admin-server/internal/respond"
	"github.com/infra-lab/admin-server/internal/traffic"
)

// APIPrefix is the subtree that needs the bearer token, matched or not: an unknown
// path under it answers 401 before 404, so the API's shape is not probeable.
const APIPrefix = "/admin/api/"

// App holds what the app-port handlers need.
type App struct {
	Service   string
	Version   string // APP_VERSION
	Commit    string // APP_COMMIT
	StartedAt time.Time
	Logger    *slog.Logger
	Metrics   *metrics.Metrics
	Auth      *auth.Bearer
	Health    *health.Checker
	Now       func() time.Time // nil means time.Now; tests pin it
	Faults    *faults.Manager
	Traffic   *traffic.Generator
	Grafana   string             // Grafana's base path for the control page's links, e.g. /grafana
	Limiter   *ratelimit.Limiter // nil: no rate limit
}

// Handler returns the app-port handler. Order, outermost first: request id, access
// log, metrics, panic recovery, rate limit, auth, routes. Recovery sits inside metrics
// and the access log so a panic is counted and logged as the 500 it becomes, and
// inside error tracking (Sentry), which reports each panic once and every other 5xx; the rate
// limit sits before auth so token guessing is throttled too.
func (a *App) Handler() http.Handler {
	rt := a.router()
	var h http.Handler = rt
	h = requireAuthUnder(APIPrefix, a.Auth, h)
	h = a.withRateLimit([]string{APIPrefix, "/admin/login", "/admin/ui/"}, h)
	h = withRecover(h)
	h = errtrack.Middleware(h)
	h = a.Metrics.InstrumentHTTP(rt.Route, h)
	h = withAccessLog(h)
	return withRequestID(a.Logger, h)
}

// router registers every app-port route.
func (a *App) router() *Router {
	rt := NewRouter()
	rt.HandleFunc("GET /admin/health", a.health)
	rt.HandleFunc("GET /admin/api/status", a.status)
	rt.HandleFunc("GET /admin/api/fault-types", a.listTypes)
	rt.HandleFunc("GET /admin/api/targets", a.listTargets)
	rt.HandleFunc("GET /admin/api/faults", a.listFaults)
	rt.HandleFunc("POST /admin/api/faults", a.injectFault)
	rt.HandleFunc("DELETE /admin/api/faults", a.revertAll)
	rt.HandleFunc("GET /admin/api/faults/{id}", a.getFault)
	rt.HandleFunc("DELETE /admin/api/faults/{id}", a.revertFault)
	rt.HandleFunc("GET /admin/api/history", a.history)
	rt.HandleFunc("GET /admin/api/traffic", a.trafficStatus)
	rt.HandleFunc("PUT /admin/api/traffic", a.trafficUpdate)

	// Control page: a session cookie from the token, form posts only.
	rt.HandleFunc("GET /admin/{$}", a.uiPage)
	rt.HandleFunc("POST /admin/login", a.uiLogin)
	rt.HandleFunc("POST /admin/logout", a.uiLogout)
	rt.HandleFunc("POST /admin/ui/faults", a.uiGuard(a.uiInject))
	rt.HandleFunc("POST /admin/ui/faults/{id}/revert", a.uiGuard(a.uiRevert))
	rt.HandleFunc("POST /admin/ui/revert-all", a.uiGuard(a.uiRevertAll))
	rt.HandleFunc("POST /admin/ui/traffic", a.uiGuard(a.uiTraffic))
	return rt
}

func requireAuthUnder(prefix string, b *auth.Bearer, next http.Handler) http.Handler {
	guarded := b.Middleware(next)
	bare := strings.TrimSuffix(prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == bare || strings.HasPrefix(p, prefix) {
			guarded.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type healthBody struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// health is the public liveness answer nginx and compose see; details stay on the
// ops port.
func (a *App) health(w http.ResponseWriter, r *http.Request) {
	rep := a.Health.Run(r.Context())
	code := http.StatusOK
	if !rep.Up() {
		code = http.StatusServiceUnavailable
		logging.FromContext(r.Context()).Warn("health check failed", "checks", rep.Checks)
	}
	respond.JSON(w, code, healthBody{Status: rep.Status, Service: a.Service, Version: a.Version, Commit: a.Commit})
}

type statusBody struct {
	Service       string  `json:"service"`
	Version       string  `json:"version"`
	Commit        string  `json:"commit"`
	StartedAt     string  `json:"started_at"`
	UptimeSeconds float64 `json:"uptime_seconds"`
}

func (a *App) status(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	uptime := now().Sub(a.StartedAt).Seconds()
	respond.JSON(w, http.StatusOK, statusBody{
		Service:       a.Service,
		Version:       a.Version,
		Commit:        a.Commit,
		StartedAt:     a.StartedAt.UTC().Format(logging.TimeFormat),
		UptimeSeconds: math.Round(uptime*1000) / 1000,
	})
}
