package httpapi

import (
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/auth"
	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/traffic"
)

// SessionCookie holds the control page's session (an HMAC of the token, never the token).
const SessionCookie = "infralab_admin_session"

//go:embed ui.html
var uiHTML string

var uiTemplate = template.Must(template.New("ui").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(uiHTML))

type uiData struct {
	LoggedIn   bool
	Message    string
	Error      string
	Now        string
	Active     []FaultView
	History    []FaultView
	Types      []faults.TypeInfo
	Targets    map[string][]string // driver -> targets
	TargetErrs map[string]string
	Traffic    traffic.Status
	Persistent bool
	StateWhere string
	// Grafana links: the page header's, each fault type's and each active fault's (by id).
	Dashboards      []linkView
	TypeDashboards  map[string][]linkView
	FaultDashboards map[string][]linkView
}

func (a *App) uiSession(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	return err == nil && a.Auth.ValidSession(c.Value)
}

// sameOrigin rejects cross-site form posts (the cookie is SameSite=Strict as well).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Host == r.Host || u.Host == r.Header.Get("X-Forwarded-Host"))
}

func (a *App) uiPage(w http.ResponseWriter, r *http.Request) {
	d := uiData{LoggedIn: a.uiSession(r), Message: r.URL.Query().Get("msg"), Error: r.URL.Query().Get("err"),
		Now: a.now().UTC().Format(time.RFC3339)}
	if d.LoggedIn {
		d.Active = a.views(a.Faults.Active())
		d.History = a.views(a.Faults.History(20))
		d.Types = a.Faults.Types()
		d.Targets, d.TargetErrs = map[string][]string{}, map[string]string{}
		for _, tl := range a.Faults.Targets(r.Context()) {
			d.Targets[tl.Driver] = tl.Targets
			if tl.Error != "" {
				d.TargetErrs[tl.Driver] = tl.Error
			}
		}
		d.Traffic = a.Traffic.Status()
		d.Persistent, d.StateWhere = a.Faults.StoreInfo()
		a.addDashboards(&d)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	if err := uiTemplate.Execute(w, d); err != nil {
		logging.FromContext(r.Context()).Error("rendering the control page failed", slog.String("error", err.Error()))
	}
}

// addDashboards links the page to Grafana; an active fault's links show the time since
// shortly before it began.
func (a *App) addDashboards(d *uiData) {
	d.Dashboards = linkViews(a.Grafana, headerDashboards, time.Time{})
	d.TypeDashboards, d.FaultDashboards = map[string][]linkView{}, map[string][]linkView{}
	for _, t := range d.Types {
		d.TypeDashboards[t.Name] = linkViews(a.Grafana, typeDashboards(t.Name), time.Time{})
	}
	for _, f := range d.Active {
		d.FaultDashboards[f.ID] = linkViews(a.Grafana, faultDashboards(f.Type, f.Target), f.InjectedAt)
	}
}

func redirect(w http.ResponseWriter, r *http.Request, key, msg string) {
	target := "/admin/"
	if msg != "" {
		target += "?" + url.Values{key: {msg}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (a *App) uiLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if !a.Auth.Valid(r.PostFormValue("token")) {
		a.Metrics.AuthFailed(auth.ReasonInvalidToken)
		logging.FromContext(r.Context()).Warn("authentication rejected", slog.String("reason", "invalid_token"),
			slog.String("path", r.URL.Path), slog.String("remote_addr", clientIP(r)))
		redirect(w, r, "err", "invalid token")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: a.Auth.SessionValue(), Path: "/admin/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		MaxAge: 12 * 3600})
	redirect(w, r, "msg", "signed in")
}

func (a *App) uiLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/admin/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	redirect(w, r, "msg", "signed out")
}

// uiGuard lets only signed-in, same-origin form posts through.
func (a *App) uiGuard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		if !a.uiSession(r) {
			redirect(w, r, "err", "sign in first")
			return
		}
		next(w, r)
	}
}

func (a *App) uiInject(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		redirect(w, r, "err", "unreadable form")
		return
	}
	req := faults.Request{Type: r.PostForm.Get("type"), Target: strings.TrimSpace(r.PostForm.Get("target")), Params: map[string]any{}}
	t, ok := a.Faults.Type(req.Type)
	if !ok {
		redirect(w, r, "err", "unknown fault type "+req.Type)
		return
	}
	for _, p := range t.Params {
		v := strings.TrimSpace(r.PostForm.Get("p_" + p.Name))
		if v == "" {
			continue
		}
		if p.Kind == faults.KindInteger {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				redirect(w, r, "err", "params."+p.Name+": must be an integer")
				return
			}
			req.Params[p.Name] = n
		} else {
			req.Params[p.Name] = v
		}
	}
	if v := strings.TrimSpace(r.PostForm.Get("ttl_seconds")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			redirect(w, r, "err", "ttl: must be a positive integer of seconds")
			return
		}
		req.TTL = time.Duration(n) * time.Second
	}
	f, err := a.Faults.Inject(r.Context(), req, actor(r, "ui"))
	if err != nil {
		redirect(w, r, "err", err.Error())
		return
	}
	redirect(w, r, "msg", "injected "+f.Type+" on "+f.Target+" ("+f.ID+")")
}

func (a *App) uiRevert(w http.ResponseWriter, r *http.Request) {
	f, err := a.Faults.Revert(r.Context(), r.PathValue("id"), actor(r, "ui"))
	if err != nil {
		redirect(w, r, "err", err.Error())
		return
	}
	redirect(w, r, "msg", "reverted "+f.Type+" on "+f.Target)
}

func (a *App) uiRevertAll(w http.ResponseWriter, r *http.Request) {
	done, err := a.Faults.RevertAll(r.Context(), actor(r, "ui"))
	if err != nil {
		redirect(w, r, "err", err.Error())
		return
	}
	redirect(w, r, "msg", "reverted "+strconv.Itoa(len(done))+" fault(s)")
}

func (a *App) uiTraffic(w http.ResponseWriter, r *http.Request) {
	enabled := r.PostFormValue("enabled") == "on"
	s := traffic.Settings{Enabled: &enabled}
	for _, f := range []struct {
		name string
		dst  **int
	}{{"rate_per_second", &s.Rate}, {"job_share", &s.JobShare}} {
		raw := strings.TrimSpace(r.PostFormValue(f.name))
		if raw == "" {
			continue // absent fields stay as they are, as in the API
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			redirect(w, r, "err", f.name+": must be an integer")
			return
		}
		*f.dst = &n
	}
	if _, err := a.applyTraffic(r, s, "ui"); err != nil {
		redirect(w, r, "err", err.Error())
		return
	}
	redirect(w, r, "msg", "traffic updated")
}
