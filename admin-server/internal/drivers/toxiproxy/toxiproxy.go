// Package toxiproxy drives faults on the network between worker-server and ext-api
// through toxiproxy's HTTP API: toxics for latency, jitter, timeout, reset_peer and
// bandwidth, and disabling the proxy for "down".
package toxiproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/drivers/httpjson"
	"github.com/infra-lab/admin-server/internal/faults"
)

// Driver manages toxics on a fixed set of proxies.
type Driver struct {
	base    string
	proxies []string
	client  *http.Client
}

// New returns a driver for the toxiproxy API at base (e.g. http://toxiproxy:8474).
func New(base string, proxies []string, client *http.Client) *Driver {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Driver{base: strings.TrimRight(base, "/"), proxies: slices.Clone(proxies), client: client}
}

func (d *Driver) Name() string { return "network" }

func ip(name, desc string, lo, hi, def int64) faults.ParamSpec {
	return faults.ParamSpec{Name: name, Kind: faults.KindInteger, Description: desc, Min: lo, Max: hi, Default: def}
}

var (
	stream   = faults.ParamSpec{Name: "stream", Kind: faults.KindEnum, Description: "direction: downstream (server to client) or upstream", Enum: []string{"downstream", "upstream"}, Default: "downstream"}
	toxicity = ip("toxicity_percent", "share of connections affected", 1, 100, 100)
)

// Types lists the network fault types.
func (d *Driver) Types() []faults.Type {
	return []faults.Type{
		{Name: "network.latency", Description: "Delay every chunk of data through the proxy.", Params: []faults.ParamSpec{
			ip("latency_ms", "added delay", 0, 60000, 1000), ip("jitter_ms", "random +/- variation", 0, 30000, 0), stream, toxicity}},
		{Name: "network.jitter", Description: "Random variation of delay (a latency toxic with small base latency).", Params: []faults.ParamSpec{
			ip("jitter_ms", "random +/- variation", 1, 30000, 500), ip("latency_ms", "base delay", 0, 60000, 0), stream, toxicity}},
		{Name: "network.timeout", Description: "Stop all data and close the connection after timeout_ms (0: never close, hang).", Params: []faults.ParamSpec{
			ip("timeout_ms", "close after this many ms; 0 holds the connection forever", 0, 600000, 0), stream, toxicity}},
		{Name: "network.reset_peer", Description: "Reset connections (TCP RST) after timeout_ms.", Params: []faults.ParamSpec{
			ip("timeout_ms", "reset after this many ms; 0 resets at once", 0, 600000, 0), stream, toxicity}},
		{Name: "network.bandwidth", Description: "Limit the throughput of the connection.", Params: []faults.ParamSpec{
			ip("rate_kbps", "rate in KB/s", 1, 1000000, 16), stream, toxicity}},
		{Name: "network.down", Description: "Disable the proxy: connections are refused until revert.", Params: []faults.ParamSpec{}},
	}
}

func (d *Driver) Targets(context.Context) ([]string, error) { return slices.Clone(d.proxies), nil }

func (d *Driver) Resolve(_ context.Context, f *faults.Fault) error {
	if !slices.Contains(d.proxies, f.Target) {
		return fmt.Errorf("%w %q for %s (known: %s)", faults.ErrUnknownTarget, f.Target, f.Type, strings.Join(d.proxies, ", "))
	}
	return nil
}

func (d *Driver) ConflictKey(f *faults.Fault) string {
	if f.Type == "network.down" {
		return f.Target + "/down"
	}
	return f.Target + "/" + f.Type + "/" + f.String("stream")
}

// ToxicName is the name of the toxic a fault creates.
func ToxicName(f *faults.Fault) string { return "admin-" + f.ID }

type toxic struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float64          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes"`
}

func (d *Driver) Inject(ctx context.Context, f *faults.Fault) error {
	if f.Type == "network.down" {
		return d.setEnabled(ctx, f.Target, false)
	}
	t := toxic{Name: ToxicName(f), Stream: f.String("stream"), Toxicity: float64(f.Int("toxicity_percent")) / 100}
	switch f.Type {
	case "network.latency", "network.jitter":
		t.Type = "latency"
		t.Attributes = map[string]int64{"latency": f.Int("latency_ms"), "jitter": f.Int("jitter_ms")}
	case "network.timeout":
		t.Type = "timeout"
		t.Attributes = map[string]int64{"timeout": f.Int("timeout_ms")}
	case "network.reset_peer":
		t.Type = "reset_peer"
		t.Attributes = map[string]int64{"timeout": f.Int("timeout_ms")}
	case "network.bandwidth":
		t.Type = "bandwidth"
		t.Attributes = map[string]int64{"rate": f.Int("rate_kbps")}
	default:
		return fmt.Errorf("unsupported fault type %s", f.Type)
	}
	b, _ := json.Marshal(t)
	if err := d.call(ctx, http.MethodPost, "/proxies/"+f.Target+"/toxics", b, http.StatusOK, http.StatusCreated); err != nil {
		return err
	}
	if f.DriverData == nil {
		f.DriverData = map[string]string{}
	}
	f.DriverData["toxic"] = t.Name
	return nil
}

// Revert removes the toxic (404: already gone) or re-enables the proxy.
func (d *Driver) Revert(ctx context.Context, f *faults.Fault) error {
	if f.Type == "network.down" {
		return d.setEnabled(ctx, f.Target, true)
	}
	name := f.DriverData["toxic"]
	if name == "" {
		name = ToxicName(f)
	}
	return d.call(ctx, http.MethodDelete, "/proxies/"+f.Target+"/toxics/"+name, nil, http.StatusNoContent, http.StatusOK, http.StatusNotFound)
}

func (d *Driver) setEnabled(ctx context.Context, proxy string, enabled bool) error {
	b, _ := json.Marshal(map[string]bool{"enabled": enabled})
	return d.call(ctx, http.MethodPost, "/proxies/"+proxy, b, http.StatusOK)
}

// Ping checks that the API answers (for the health details).
func (d *Driver) Ping(ctx context.Context) error {
	return d.call(ctx, http.MethodGet, "/version", nil, http.StatusOK)
}

// call sends method to the API's path; an answer with any status but ok is an error.
func (d *Driver) call(ctx context.Context, method, path string, body []byte, ok ...int) error {
	req, err := httpjson.NewRequest(ctx, method, d.base+path, body)
	if err != nil {
		return err
	}
	// toxiproxy refuses browser-like requests without it since 2.1 (CSRF guard).
	req.Header.Set("User-Agent", "infralab-admin-server")
	return httpjson.Do(d.client, req, "toxiproxy", nil, ok...)
}
