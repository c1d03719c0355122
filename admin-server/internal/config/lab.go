package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the lab settings (fault drivers, state, traffic).
const (
	DefaultChaosTargets    = "core-server=http://core-server:8081,worker-server=http://worker-server:8081"
	DefaultDockerHost      = "tcp://docker-proxy:2375"
	DefaultToxiproxyURL    = "http://toxiproxy:8474"
	DefaultToxiproxyProxy  = "ext-api"
	DefaultStateDir        = "/var/lib/admin-server"
	DefaultFaultTTL        = 60 * time.Second
	DefaultFaultMaxTTL     = 600 * time.Second
	DefaultRateLimit       = 20.0 // requests per second per client on /admin/api/
	DefaultTrafficTarget   = "http://nginx:8080"
	DefaultTrafficRate     = 2
	DefaultTrafficPaths    = "/api/health"
	MaxTrafficRate         = 50
	DefaultTrafficJobShare = 20 // percent of synthetic requests that submit a job
	MaxTrafficJobShare     = 100
	DefaultGrafanaPath     = "/grafana"
	MaxFaultTTLUpperBound  = 24 * time.Hour
	maxRateLimitPerSeconds = 1000
)

// Lab holds the settings of the fault drivers, the state directory, traffic and the
// control page's links to Grafana.
type Lab struct {
	ChaosTargets     map[string]string // target name -> ops base URL
	ChaosTargetOrder []string
	DockerHost       string
	ToxiproxyURL     string
	ToxiproxyProxies []string
	StateDir         string
	FaultTTL         time.Duration
	FaultMaxTTL      time.Duration
	RateLimit        float64
	TrafficEnabled   bool
	TrafficTarget    string
	TrafficRate      int
	TrafficPaths     []string
	TrafficJobShare  int
	// GrafanaPath is where the browser finds Grafana (nginx's /grafana/), the base of the
	// control page's dashboard links; a path, so the links work under any host name.
	GrafanaPath string
}

func loadLab(getenv func(string) string) (Lab, error) {
	var errs []error
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	l := Lab{
		DockerHost:   get("DOCKER_HOST", DefaultDockerHost),
		ToxiproxyURL: get("TOXIPROXY_URL", DefaultToxiproxyURL),
		StateDir:     get("ADMIN_STATE_DIR", DefaultStateDir),
	}
	var err error
	l.ChaosTargets, l.ChaosTargetOrder, err = parseTargets(get("CHAOS_TARGETS", DefaultChaosTargets))
	errs = append(errs, err)
	l.ToxiproxyProxies = splitList(get("TOXIPROXY_PROXIES", DefaultToxiproxyProxy))
	if len(l.ToxiproxyProxies) == 0 {
		errs = append(errs, errors.New("TOXIPROXY_PROXIES must name at least one proxy"))
	}
	for _, u := range []struct{ name, v string }{{"TOXIPROXY_URL", l.ToxiproxyURL}} {
		errs = append(errs, checkURL(u.name, u.v))
	}
	if !strings.Contains(l.DockerHost, "://") {
		errs = append(errs, fmt.Errorf("DOCKER_HOST must look like tcp://host:port or unix:///path, got %q", l.DockerHost))
	}
	l.FaultTTL, err = duration(getenv, "ADMIN_FAULT_TTL_DEFAULT", DefaultFaultTTL)
	errs = append(errs, err)
	l.FaultMaxTTL, err = duration(getenv, "ADMIN_FAULT_TTL_MAX", DefaultFaultMaxTTL)
	errs = append(errs, err)
	if l.FaultTTL > l.FaultMaxTTL {
		errs = append(errs, fmt.Errorf("ADMIN_FAULT_TTL_DEFAULT (%s) must not exceed ADMIN_FAULT_TTL_MAX (%s)", l.FaultTTL, l.FaultMaxTTL))
	}
	l.RateLimit = DefaultRateLimit
	if raw := strings.TrimSpace(getenv("ADMIN_RATE_LIMIT")); raw != "" {
		f, perr := strconv.ParseFloat(raw, 64)
		if perr != nil || f <= 0 || f > maxRateLimitPerSeconds {
			errs = append(errs, fmt.Errorf("ADMIN_RATE_LIMIT must be requests per second in (0, %d], got %q", maxRateLimitPerSeconds, raw))
		} else {
			l.RateLimit = f
		}
	}
	switch v := strings.ToLower(get("TRAFFIC_ENABLED", "false")); v {
	case "true", "1", "yes", "on":
		l.TrafficEnabled = true
	case "false", "0", "no", "off":
	default:
		errs = append(errs, fmt.Errorf("TRAFFIC_ENABLED must be true or false, got %q", v))
	}
	l.TrafficTarget = get("TRAFFIC_TARGET_URL", DefaultTrafficTarget)
	errs = append(errs, checkURL("TRAFFIC_TARGET_URL", l.TrafficTarget))
	l.TrafficRate, err = boundedInt(getenv, "TRAFFIC_RATE", DefaultTrafficRate, MaxTrafficRate, "requests per second")
	errs = append(errs, err)
	l.TrafficJobShare, err = boundedInt(getenv, "TRAFFIC_JOB_SHARE", DefaultTrafficJobShare, MaxTrafficJobShare, "a percentage")
	errs = append(errs, err)
	l.TrafficPaths = splitList(get("TRAFFIC_PATHS", DefaultTrafficPaths))
	for _, p := range l.TrafficPaths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("TRAFFIC_PATHS entries must start with /, got %q", p))
		}
	}
	grafana := get("GRAFANA_URL_PATH", DefaultGrafanaPath)
	l.GrafanaPath = strings.TrimRight(grafana, "/")
	if !strings.HasPrefix(l.GrafanaPath, "/") || strings.HasPrefix(l.GrafanaPath, "//") || strings.ContainsAny(l.GrafanaPath, "?#\"\\ ") {
		errs = append(errs, fmt.Errorf("GRAFANA_URL_PATH must be a path below the root on this host, such as /grafana, got %q", grafana))
	}
	return l, errors.Join(errs...)
}

// boundedInt reads an integer variable in 0..hi; unit names what it counts in the error.
func boundedInt(getenv func(string) string, name string, def, hi int, unit string) (int, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 || n > hi {
		return def, fmt.Errorf("%s must be %s in 0..%d, got %q", name, unit, hi, raw)
	}
	return n, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseTargets(s string) (map[string]string, []string, error) {
	m := map[string]string{}
	var order []string
	for _, item := range splitList(s) {
		name, u, ok := strings.Cut(item, "=")
		name, u = strings.TrimSpace(name), strings.TrimSpace(u)
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("CHAOS_TARGETS must be name=url pairs separated by commas, got %q", item)
		}
		if err := checkURL("CHAOS_TARGETS["+name+"]", u); err != nil {
			return nil, nil, err
		}
		if _, dup := m[name]; dup {
			return nil, nil, fmt.Errorf("CHAOS_TARGETS names %q twice", name)
		}
		m[name] = u
		order = append(order, name)
	}
	return m, order, nil
}

func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an http(s) URL with a host, got %q", name, raw)
	}
	return nil
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		if n, aerr := strconv.Atoi(raw); aerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < time.Second || d > MaxFaultTTLUpperBound || d%time.Second != 0 {
		return 0, fmt.Errorf("%s must be whole seconds between 1s and 24h (e.g. 60s or 10m), got %q", name, raw)
	}
	return d, nil
}
