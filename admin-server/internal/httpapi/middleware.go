package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/infra-lab/admin-server/internal/errtrack"
	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/requestid"
	"github.com/infra-lab/admin-server/internal/respond"
	"github.com/infra-lab/admin-server/internal/statuswriter"
)

// withRequestID reads X-Request-ID (nginx sets it) or makes one, echoes it on the
// response, and puts the id and a logger carrying it into the request context.
func withRequestID(base *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestid.Header)
		if !requestid.Valid(id) {
			id = requestid.New()
		}
		w.Header().Set(requestid.Header, id)
		ctx := requestid.WithID(r.Context(), id)
		ctx = logging.WithLogger(ctx, base.With(slog.String("request_id", id)))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// withAccessLog writes the contract's one "request completed" line per request.
func withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statuswriter.New(w)
		next.ServeHTTP(sw, r)
		ms := float64(time.Since(start).Microseconds()) / 1000
		logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "request completed",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path), // never the query: it may carry secrets
			slog.Int("status", sw.Status()),
			slog.Float64("duration_ms", math.Round(ms*1000)/1000),
		)
	})
}

// withRecover turns a handler panic into a logged error and a JSON 500; the stack goes
// to the log only, never to the client.
func withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := statuswriter.New(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { // deliberate abort: let net/http drop the connection
				panic(v)
			}
			logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelError, "panic in handler",
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())),
			)
			errtrack.CapturePanic(r.Context(), v)
			if sw.Wrote() {
				// Part of a response is out already; cutting the connection is the only
				// honest signal left to the client.
				panic(http.ErrAbortHandler)
			}
			respond.Error(w, http.StatusInternalServerError, "internal", "internal server error")
		}()
		next.ServeHTTP(sw, r)
	})
}
