package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadLab(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string
		check   func(Lab) bool
	}{
		{name: "defaults", vars: map[string]string{}, check: func(l Lab) bool {
			return reflect.DeepEqual(l.ChaosTargets, map[string]string{"core-server": "http://core-server:8081", "worker-server": "http://worker-server:8081"}) &&
				l.DockerHost == "tcp://docker-proxy:2375" && l.ToxiproxyURL == "http://toxiproxy:8474" &&
				reflect.DeepEqual(l.ToxiproxyProxies, []string{"ext-api"}) && l.StateDir == "/var/lib/admin-server" &&
				l.FaultTTL == time.Minute && l.FaultMaxTTL == 10*time.Minute && !l.TrafficEnabled &&
				l.TrafficTarget == "http://nginx:8080" && l.TrafficRate == 2 && reflect.DeepEqual(l.TrafficPaths, []string{"/api/health"}) &&
				l.TrafficJobShare == 20 && l.GrafanaPath == "/grafana"
		}},
		{name: "overrides", vars: map[string]string{"CHAOS_TARGETS": "a=http://a:1, b=http://b:2", "DOCKER_HOST": "unix:///var/run/docker.sock",
			"ADMIN_FAULT_TTL_DEFAULT": "30", "ADMIN_FAULT_TTL_MAX": "15m", "TRAFFIC_ENABLED": "true", "TRAFFIC_RATE": "50",
			"TRAFFIC_PATHS": "/api/health,/", "ADMIN_RATE_LIMIT": "5", "TRAFFIC_JOB_SHARE": "100", "GRAFANA_URL_PATH": "/ops/grafana/"}, check: func(l Lab) bool {
			return len(l.ChaosTargets) == 2 && l.ChaosTargets["b"] == "http://b:2" && l.FaultTTL == 30*time.Second &&
				l.FaultMaxTTL == 15*time.Minute && l.TrafficEnabled && l.TrafficRate == 50 && len(l.TrafficPaths) == 2 && l.RateLimit == 5 &&
				l.TrafficJobShare == 100 && l.GrafanaPath == "/ops/grafana"
		}},
		{name: "no job submissions", vars: map[string]string{"TRAFFIC_JOB_SHARE": "0"}, check: func(l Lab) bool { return l.TrafficJobShare == 0 }},
		{name: "job share over 100", vars: map[string]string{"TRAFFIC_JOB_SHARE": "101"}, wantErr: `TRAFFIC_JOB_SHARE must be a percentage in 0..100, got "101"`},
		{name: "job share not a number", vars: map[string]string{"TRAFFIC_JOB_SHARE": "20%"}, wantErr: `TRAFFIC_JOB_SHARE must be a percentage in 0..100, got "20%"`},
		{name: "traffic rate not a number", vars: map[string]string{"TRAFFIC_RATE": "fast"}, wantErr: `TRAFFIC_RATE must be requests per second in 0..50, got "fast"`},
		{name: "grafana url instead of path", vars: map[string]string{"GRAFANA_URL_PATH": "http://grafana:3000"}, wantErr: "GRAFANA_URL_PATH must be a path below the root"},
		{name: "grafana at the root", vars: map[string]string{"GRAFANA_URL_PATH": "/"}, wantErr: "GRAFANA_URL_PATH must be a path below the root"},
		{name: "grafana scheme-relative", vars: map[string]string{"GRAFANA_URL_PATH": "//evil.example/g"}, wantErr: "GRAFANA_URL_PATH must be a path below the root"},
		{name: "traffic rate over max", vars: map[string]string{"TRAFFIC_RATE": "51"}, wantErr: "TRAFFIC_RATE must be requests per second in 0..50"},
		{name: "traffic enabled junk", vars: map[string]string{"TRAFFIC_ENABLED": "maybe"}, wantErr: "TRAFFIC_ENABLED must be true or false"},
		{name: "bad targets", vars: map[string]string{"CHAOS_TARGETS": "core-server"}, wantErr: "CHAOS_TARGETS must be name=url pairs"},
		{name: "bad target url", vars: map[string]string{"CHAOS_TARGETS": "a=ftp://x"}, wantErr: "CHAOS_TARGETS[a] must be an http(s) URL"},
		{name: "default over max", vars: map[string]string{"ADMIN_FAULT_TTL_DEFAULT": "20m"}, wantErr: "must not exceed ADMIN_FAULT_TTL_MAX"},
		{name: "bad ttl", vars: map[string]string{"ADMIN_FAULT_TTL_MAX": "1.5s"}, wantErr: "ADMIN_FAULT_TTL_MAX must be whole seconds"},
		{name: "bad docker host", vars: map[string]string{"DOCKER_HOST": "docker-proxy:2375"}, wantErr: "DOCKER_HOST must look like"},
		{name: "bad path", vars: map[string]string{"TRAFFIC_PATHS": "api"}, wantErr: "TRAFFIC_PATHS entries must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := loadLab(env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadLab() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(l) {
				t.Fatalf("loadLab() = %+v", l)
			}
		})
	}
}
