// Package httpapi assembles the HTTP handlers of the app port and the ops port.
package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/infra-lab/admin-server/internal/respond"
)

// UnmatchedRoute is the route label of requests that matched no registered pattern,
// so arbitrary paths cannot blow up metric cardinality.
const UnmatchedRoute = "unmatched"

// Router is a ServeMux that answers unmatched paths and methods in JSON instead of
// the mux's plain text, and names the matched route for metrics.
type Router struct {
	mux    *http.ServeMux
	routes map[string]string // registered pattern -> route label; written only during setup
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux(), routes: map[string]string{}}
}

// Handle registers h for a method pattern such as "GET /admin/health".
func (rt *Router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
	label := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		label = path // the method is already its own label
	}
	rt.routes[pattern] = label
}

// HandleFunc registers a handler function.
func (rt *Router) HandleFunc(pattern string, h http.HandlerFunc) { rt.Handle(pattern, h) }

// Route returns the route label of r: its matched pattern's path, or UnmatchedRoute.
// Only registered patterns count: the mux also reports cleaned request paths for its
// redirects, and those must not become labels.
func (rt *Router) Route(r *http.Request) string {
	_, pattern := rt.mux.Handler(r)
	if label, ok := rt.routes[pattern]; ok {
		return label
	}
	return UnmatchedRoute
}

// ServeHTTP dispatches to the mux, except that its 404 and 405 answers become JSON.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r) // also sets r.Pattern and path values
		return
	}
	// An empty pattern means the mux would answer 404, or 405 with an Allow header.
	// Run its handler against a recorder to learn which, then answer in JSON.
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		respond.Error(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	respond.Error(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s", r.URL.Path))
}

// statusProbe records the status and headers a handler sets and discards its body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }

func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
