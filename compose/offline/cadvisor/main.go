// Command cadvisor is the lab's container-metrics exporter: cAdvisor's library
// behind a small main of our own.
//
// Why our own main: no container registry answers on the offline path, and the
// Go module proxy does not serve upstream's binary (cmd/ is a module of its own,
// github.com/google/cadvisor/cmd, that the proxy cannot fetch). The library
// modules (github.com/google/cadvisor and github.com/google/cadvisor/lib) are
// served, and upstream's cmd/cadvisor.go is a thin main over them. This file
// mirrors its setup at the pinned version (go.mod), keeping what the lab needs:
// the docker and raw cgroup container handlers, the kernel-log OOM watcher
// behind container_oom_events_total, Prometheus metrics and /healthz. Web UI,
// REST API, storage drivers, perf/resctrl and cloud-provider detection are left
// out. Flags keep upstream's names and defaults, so the official image
// (ghcr.io/google/cadvisor) takes the same command line.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"github.com/google/cadvisor/lib/version"
	"github.com/google/cadvisor/utils/oomparser"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	// The docker container handler. The raw cgroup handler is registered by
	// the manager itself (manager.Start), with the library's --docker_only flag.
	_ "github.com/google/cadvisor/container/docker/install"
)

// Upstream's flags (cmd/cadvisor.go, cmd/storagedriver.go) that apply here. The
// library registers the rest on the global flag set: --housekeeping_interval,
// --max_housekeeping_interval, --allow_dynamic_housekeeping, --docker_only,
// --docker, --disable_root_cgroup_stats, ...
var (
	argIP                      = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	argPort                    = flag.Int("port", 8080, "port to listen")
	versionFlag                = flag.Bool("version", false, "print cAdvisor version and exit")
	prometheusEndpoint         = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")
	storageDuration            = flag.Duration("storage_duration", 2*time.Minute, "How long to keep data stored (Default: 2min).")
	storeContainerLabels       = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
	whitelistedContainerLabels = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")
	envMetadataWhiteList       = flag.String("env_metadata_whitelist", "", "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers, only support containerd and docker runtime for now.")
	rawCgroupPrefixWhiteList   = flag.String("raw_cgroup_prefix_whitelist", "", "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")
)

var (
	// Upstream's default --disable_metrics: the expensive or host-specific sets.
	ignoreMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              struct{}{},
		container.NetworkTcpUsageMetrics:         struct{}{},
		container.NetworkUdpUsageMetrics:         struct{}{},
		container.NetworkAdvancedTcpUsageMetrics: struct{}{},
		container.ProcessSchedulerMetrics:        struct{}{},
		container.ProcessMetrics:                 struct{}{},
		container.HugetlbUsageMetrics:            struct{}{},
		container.ReferencedMemoryMetrics:        struct{}{},
		container.CPUTopologyMetrics:             struct{}{},
		container.ResctrlMetrics:                 struct{}{},
		container.CPUSetMetrics:                  struct{}{},
	}
	// Used only if non-empty; then it replaces --disable_metrics.
	enableMetrics = container.MetricSet{}
)

func init() {
	opts := make([]string, 0, len(container.AllMetrics))
	for kind := range container.AllMetrics {
		opts = append(opts, string(kind))
	}
	sort.Strings(opts)
	optstr := strings.Join(opts, "', '")
	flag.Var(&ignoreMetrics, "disable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be disabled. Options are '%s'.", optstr))
	flag.Var(&enableMetrics, "enable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be enabled. If set, overrides 'disable_metrics'. Options are '%s'.", optstr))
}

func main() {
	klog.InitFlags(nil)
	_ = flag.Set("v", "2") // upstream's default verbosity; --v overrides it
	defer klog.Flush()
	flag.Parse()

	if *versionFlag {
		fmt.Printf("cAdvisor version %s (%s)\n", version.Info["version"], version.Info["revision"])
		os.Exit(0)
	}

	includedMetrics := container.AllMetrics.Difference(ignoreMetrics)
	if len(enableMetrics) > 0 {
		includedMetrics = enableMetrics
	}
	klog.V(1).Infof("enabled metrics: %s", includedMetrics.String())

	resourceManager, err := manager.New(
		memory.New(*storageDuration, nil),
		sysfs.NewRealSysFs(),
		manager.HousekeepingConfigFlags,
		includedMetrics,
		strings.Split(*rawCgroupPrefixWhiteList, ","),
		strings.Split(*envMetadataWhiteList, ","),
		"", // no perf events
		0,  // no resctrl
	)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %s", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})

	containerLabelFunc := metrics.DefaultContainerLabels
	if !*storeContainerLabels {
		containerLabelFunc = metrics.BaseContainerLabels(strings.Split(*whitelistedContainerLabels, ","))
	}
	if includedMetrics.Has(container.OOMMetrics) {
		startOOMWatcher()
	}
	// Upstream's defaults for the Prometheus request (cmd/internal/api).
	requestOptions := info.RequestOptions{IdType: info.TypeName, Count: 1, Recursive: true}
	registry := prometheus.NewRegistry()
	registry.MustRegister(
		metrics.NewPrometheusCollector(oomCounting{resourceManager}, containerLabelFunc, includedMetrics, clock.RealClock{}, requestOptions),
		metrics.NewPrometheusMachineCollector(resourceManager, includedMetrics),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux.Handle(*prometheusEndpoint, promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))

	if err := resourceManager.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	installSignalHandler(resourceManager)

	klog.V(1).Infof("Starting cAdvisor version: %s-%s on port %d", version.Info["version"], version.Info["revision"], *argPort)
	server := &http.Server{
		Addr:              fmt.Sprintf("%s:%d", *argIP, *argPort),
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	klog.Fatal(server.ListenAndServe())
}

func installSignalHandler(m manager.Manager) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-c
		if err := m.Stop(); err != nil {
			klog.Errorf("Failed to stop container manager: %v", err)
		}
		klog.Infof("Exiting given signal: %v", sig)
		os.Exit(0)
	}()
}

// OOM kills per container (cgroup name), counted from the kernel log. The
// library's manager no longer watches for OOMs; upstream's binary owns that
// (cmd/internal/api/oom.go), and so does this one.
var oomCounts = struct {
	sync.Mutex
	byContainer map[string]uint64
}{byContainer: map[string]uint64{}}

// startOOMWatcher reads /dev/kmsg (CAP_SYSLOG when kernel.dmesg_restrict=1).
// Best effort, as upstream: without the kernel log the counters stay at zero.
func startOOMWatcher() {
	oomLog, err := oomparser.New()
	if err != nil {
		klog.Warningf("Could not configure a source for OOM detection, disabling OOM events: %v", err)
		return
	}
	stream := make(chan *oomparser.OomInstance, 10)
	go oomLog.StreamOoms(stream)
	go func() {
		for oom := range stream {
			klog.V(1).Infof("OOM kill in %q: process %d (%s)", oom.ContainerName, oom.Pid, oom.ProcessName)
			oomCounts.Lock()
			oomCounts.byContainer[oom.ContainerName]++
			oomCounts.Unlock()
		}
	}()
}

// oomCounting gives the Prometheus collector each container's OOM-kill count
// (container_oom_events_total), which the library's manager reports as zero.
type oomCounting struct {
	manager.Manager
}

func (o oomCounting) GetRequestedContainersInfo(name string, options info.RequestOptions) (map[string]*info.ContainerInfo, error) {
	infos, err := o.Manager.GetRequestedContainersInfo(name, options)
	oomCounts.Lock()
	defer oomCounts.Unlock()
	for _, ci := range infos {
		for _, stats := range ci.Stats {
			stats.OOMEvents = oomCounts.byContainer[ci.Name]
		}
	}
	return infos, err
}
