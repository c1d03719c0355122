package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/requestid"
	"github.com/infra-lab/admin-server/internal/respond"
	"github.com/infra-lab/admin-server/internal/traffic"
)

// Limits of list endpoints.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 500
)

// FaultView is a fault as the API shows it: the record plus the seconds left.
type FaultView struct {
	faults.Fault
	RemainingSeconds int64 `json:"remaining_seconds"`
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) view(f faults.Fault) FaultView {
	rem := int64(0)
	if f.State == faults.StateActive {
		rem = max(int64(math.Ceil(f.ExpiresAt.Sub(a.now()).Seconds())), 0)
	}
	return FaultView{Fault: f, RemainingSeconds: rem}
}

func (a *App) views(fs []faults.Fault) []FaultView {
	out := make([]FaultView, 0, len(fs))
	for _, f := range fs {
		out = append(out, a.view(f))
	}
	return out
}

var actorPattern = regexp.MustCompile(`^[A-Za-z0-9._@:-]{1,64}$`)

// actor names who acts: an optional X-Admin-Actor (the suite sets its test name),
// else the channel; plus the client address and request id.
func actor(r *http.Request, channel string) faults.Actor {
	name := channel
	if v := r.Header.Get("X-Admin-Actor"); actorPattern.MatchString(v) {
		name = channel + ":" + v
	}
	return faults.Actor{Name: name, RemoteAddr: clientIP(r), RequestID: requestid.FromContext(r.Context())}
}

// clientIP prefers the address nginx reports (X-Real-IP); only the lab network
// reaches the app port, so the header is trusted for audit and rate limiting.
func clientIP(r *http.Request) string {
	if ip := net.ParseIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ip != nil {
		return ip.String()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (a *App) writeFaultError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *faults.ValidationError
	var be *faults.BackendError
	switch {
	case errors.As(err, &ve):
		respond.Error(w, http.StatusBadRequest, "bad_request", ve.Error())
	case errors.Is(err, faults.ErrUnknownTarget):
		respond.Error(w, http.StatusBadRequest, "unknown_target", "target: "+err.Error())
	case errors.Is(err, faults.ErrConflict):
		respond.Error(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, faults.ErrNotFound):
		respond.Error(w, http.StatusNotFound, "not_found", "no fault with id "+r.PathValue("id"))
	case errors.As(err, &be):
		errtrack.ReportError(r.Context(), be)
		respond.Error(w, http.StatusBadGateway, "backend_error", be.Error())
	default:
		logging.FromContext(r.Context()).Error("fault operation failed", slog.String("error", err.Error()))
		errtrack.ReportError(r.Context(), err)
		respond.Error(w, http.StatusInternalServerError, "internal", "internal server error")
	}
}

type typesBody struct {
	DefaultTTLSeconds int64             `json:"default_ttl_seconds"`
	MaxTTLSeconds     int64             `json:"max_ttl_seconds"`
	Types             []faults.TypeInfo `json:"types"`
}

func (a *App) listTypes(w http.ResponseWriter, _ *http.Request) {
	def, maxTTL := a.Faults.TTLLimits()
	respond.JSON(w, http.StatusOK, typesBody{DefaultTTLSeconds: int64(def / time.Second), MaxTTLSeconds: int64(maxTTL / time.Second), Types: a.Faults.Types()})
}

func (a *App) listTargets(w http.ResponseWriter, r *http.Request) {
	respond.JSON(w, http.StatusOK, map[string]any{"targets": a.Faults.Targets(r.Context())})
}

func (a *App) listFaults(w http.ResponseWriter, _ *http.Request) {
	respond.JSON(w, http.StatusOK, map[string]any{"faults": a.views(a.Faults.Active())})
}

func (a *App) injectFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, faults.MaxRequestBytes+1))
	if err != nil {
		respond.Error(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("body: larger than %d bytes or unreadable", faults.MaxRequestBytes))
		return
	}
	req, err := faults.ParseRequest(body)
	if err != nil {
		a.writeFaultError(w, r, err)
		return
	}
	f, err := a.Faults.Inject(r.Context(), req, actor(r, "api"))
	if err != nil {
		a.writeFaultError(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/api/faults/"+f.ID)
	respond.JSON(w, http.StatusCreated, map[string]any{"fault": a.view(f)})
}

func (a *App) getFault(w http.ResponseWriter, r *http.Request) {
	f, err := a.Faults.Get(r.PathValue("id"))
	if err != nil {
		a.writeFaultError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, map[string]any{"fault": a.view(f)})
}

func (a *App) revertFault(w http.ResponseWriter, r *http.Request) {
	f, err := a.Faults.Revert(r.Context(), r.PathValue("id"), actor(r, "api"))
	if err != nil {
		a.writeFaultError(w, r, err)
		return
	}
	respond.JSON(w, http.StatusOK, map[string]any{"fault": a.view(f)})
}

type revertAllBody struct {
	Reverted []FaultView `json:"reverted"`
	Error    string      `json:"error,omitempty"`
	Message  string      `json:"message,omitempty"`
}

func (a *App) revertAll(w http.ResponseWriter, r *http.Request) {
	done, err := a.Faults.RevertAll(r.Context(), actor(r, "api"))
	body := revertAllBody{Reverted: a.views(done)}
	if err != nil {
		body.Error, body.Message = "backend_error", err.Error()
		errtrack.ReportError(r.Context(), err)
		respond.JSON(w, http.StatusBadGateway, body)
		return
	}
	respond.JSON(w, http.StatusOK, body)
}

func (a *App) history(w http.ResponseWriter, r *http.Request) {
	limit := defaultHistoryLimit
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxHistoryLimit {
			respond.Error(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit: must be an integer between 1 and %d", maxHistoryLimit))
			return
		}
		limit = n
	}
	respond.JSON(w, http.StatusOK, map[string]any{"history": a.views(a.Faults.History(limit))})
}

func (a *App) trafficStatus(w http.ResponseWriter, _ *http.Request) {
	respond.JSON(w, http.StatusOK, a.Traffic.Status())
}

func (a *App) trafficUpdate(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var s traffic.Settings
	if err := dec.Decode(&s); err != nil {
		respond.Error(w, http.StatusBadRequest, "bad_request",
			"body: expected {\"enabled\": bool, \"rate_per_second\": int, \"paths\": [string], \"job_share\": int} with known fields only")
		return
	}
	st, err := a.applyTraffic(r, s, "api")
	if err != nil {
		respond.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	respond.JSON(w, http.StatusOK, st)
}

// applyTraffic changes the generator and audits the change, from the API or the page.
func (a *App) applyTraffic(r *http.Request, s traffic.Settings, channel string) (traffic.Status, error) {
	st, err := a.Traffic.Apply(s)
	details := map[string]any{"enabled": st.Enabled, "rate_per_second": st.RatePerSecond, "paths": st.Paths, "job_share": st.JobShare}
	a.Faults.Audit(r.Context(), "traffic", actor(r, channel), details, err)
	return st, err
}

// withRateLimit throttles each client under prefix with a token bucket, before auth,
// so guessing tokens is slow too.
func (a *App) withRateLimit(prefixes []string, next http.Handler) http.Handler {
	if a.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limited := false
		for _, p := range prefixes {
			limited = limited || r.URL.Path == strings.TrimSuffix(p, "/") || strings.HasPrefix(r.URL.Path, p)
		}
		if limited {
			if ok, wait := a.Limiter.Allow(clientIP(r)); !ok {
				secs := int(math.Ceil(wait.Seconds()))
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				logging.FromContext(r.Context()).Warn("rate limited", slog.String("remote_addr", clientIP(r)), slog.String("path", r.URL.Path))
				respond.Error(w, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after the Retry-After seconds")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
