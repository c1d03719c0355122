// Package chaos drives the chaos contract (docs/contracts/chaos.md) of core-server
// and worker-server: POST/DELETE /internal/chaos/{kind} on their ops ports.
package chaos

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

// ContractMaxTTL is the contract's cap on duration_seconds.
const ContractMaxTTL = 600 * time.Second

// Driver talks to a fixed set of services by name.
type Driver struct {
	targets map[string]string // name -> base URL, e.g. http://core-server:8081
	client  *http.Client
}

// New returns a driver; targets maps a target name to the service's ops base URL.
func New(targets map[string]string, client *http.Client) *Driver {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	t := make(map[string]string, len(targets))
	for k, v := range targets {
		t[k] = strings.TrimRight(v, "/")
	}
	return &Driver{targets: t, client: client}
}

func (d *Driver) Name() string { return "chaos" }

func ip(name, desc string, lo, hi, def int64) faults.ParamSpec {
	return faults.ParamSpec{Name: name, Kind: faults.KindInteger, Description: desc, Min: lo, Max: hi, Default: def}
}

// Types mirrors the contract's kinds and ranges; duration_seconds comes from the TTL.
func (d *Driver) Types() []faults.Type {
	return []faults.Type{
		{Name: "chaos.cpu", Description: "Busy loops inside the service process.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("workers", "busy goroutines/threads", 1, 4, 1),
			ip("load_percent", "duty cycle of each worker", 1, 100, 100)}},
		{Name: "chaos.memory", Description: "Allocate and retain memory (a leak) until the fault ends.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("rate_mib_per_second", "allocation rate", 1, 64, 8),
			ip("max_mib", "stop growing at this size", 1, 2048, 256)}},
		{Name: "chaos.latency", Description: "Delay added to the service's app-port requests.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("delay_ms", "added delay", 1, 30000, 500),
			ip("jitter_ms", "random extra delay up to this", 0, 10000, 0),
			ip("percent", "share of requests affected", 1, 100, 100)}},
		{Name: "chaos.errors", Description: "App-port requests fail with an error status.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("percent", "share of requests failing", 1, 100, 100),
			ip("status", "HTTP status returned", 500, 599, 500)}},
		{Name: "chaos.disk", Description: "A ballast file filling the service's data disk.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("size_mib", "ballast size", 1, 10240, 100)}},
	}
}

func (d *Driver) Targets(context.Context) ([]string, error) {
	out := make([]string, 0, len(d.targets))
	for k := range d.targets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

func (d *Driver) Resolve(_ context.Context, f *faults.Fault) error {
	if _, ok := d.targets[f.Target]; !ok {
		names, _ := d.Targets(context.Background())
		return fmt.Errorf("%w %q for %s (known: %s)", faults.ErrUnknownTarget, f.Target, f.Type, strings.Join(names, ", "))
	}
	return nil
}

func kind(f *faults.Fault) string { return strings.TrimPrefix(f.Type, "chaos.") }

func (d *Driver) ConflictKey(f *faults.Fault) string { return f.Target + "/" + kind(f) }

func (d *Driver) Inject(ctx context.Context, f *faults.Fault) error {
	body := map[string]any{"duration_seconds": f.TTLSeconds}
	for k, v := range f.Params {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return d.call(ctx, http.MethodPost, f, b, http.StatusCreated, http.StatusOK)
}

// Revert deletes the kind; 404 means it already expired on the service, which is fine.
func (d *Driver) Revert(ctx context.Context, f *faults.Fault) error {
	return d.call(ctx, http.MethodDelete, f, nil, http.StatusOK, http.StatusNotFound, http.StatusNoContent)
}

// call sends method to the chaos endpoint of f's kind on f's target; an answer
// with any status but ok is an error.
func (d *Driver) call(ctx context.Context, method string, f *faults.Fault, body []byte, ok ...int) error {
	base, known := d.targets[f.Target]
	if !known {
		return fmt.Errorf("%w %q", faults.ErrUnknownTarget, f.Target)
	}
	req, err := httpjson.NewRequest(ctx, method, base+"/internal/chaos/"+kind(f), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	return httpjson.Do(d.client, req, f.Target, nil, ok...)
}
