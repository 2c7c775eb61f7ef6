// Package expo streams the agent's per-product series to /metrics.
//
// client_golang builds a protobuf message for every series at every
// scrape, then checks, hashes and sorts them all before the first byte is
// written: at 10,000 products (400,000 series) that is hundreds of
// megabytes and most of the scrape's CPU. A Source instead writes its
// series one family at a time straight to a Writer: the text format
// (0.0.4) line by line, or delimited protobuf one family message at a
// time. The packages that export a series per product (collector, sla,
// lag, quality, lineage) are Sources, the latency histograms included
// (Histogram families: native and classic buckets); everything else (the
// agent's own metrics and histograms) stays an ordinary client_golang
// collector.
//
// A Source is also a prometheus.Collector (Collector adapts its write
// function), so a Registry's Gather and the tests read it as any other.
// Registry keeps the Sources apart for Handler, which gathers the ordinary
// collectors as client_golang does and streams the Sources after them. The text written is byte for byte what
// client_golang writes for the same series (labels in name order); the
// series of a family come in the Source's order rather than sorted. Once
// a write fails (the scraper went away, or timed out), nothing more is
// formatted and the Sources not yet written are not asked for their series.
//
// OpenMetrics is not offered: a scraper that asks for it (Prometheus does
// by default) gets the text format, which it reads as well.
package expo
