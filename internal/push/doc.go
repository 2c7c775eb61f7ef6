// Package push owns the push: section (Config) and pushes every metric of
// the agent's registry to a VictoriaMetrics or Prometheus text-import
// endpoint (Pusher), for agents nobody scrapes.
package push
