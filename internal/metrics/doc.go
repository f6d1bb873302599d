// Package metrics holds the counters, gauges and histograms that serve
// exposes at /metrics, and writes them in the Prometheus text exposition
// format, version 0.0.4. It replaces github.com/prometheus/client_golang,
// whose package initialisation (with procfs, client_model and protobuf
// behind it) every command of the binary paid at start-up for a feature of
// one; nothing here runs at init.
package metrics
