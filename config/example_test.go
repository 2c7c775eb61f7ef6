package config_test

import (
	"fmt"
	"strings"

	"github.com/meshwatch/meshwatch/config"
)

func ExampleLoad() {
	const doc = `cluster:
  brokers: ["kafka-1:9092"]
products:
  - name: checkout.orders.placed
    domain: checkout
    owner: orders-team
    topics: [checkout.orders.placed]
    slos:
      - {name: freshness, sli: freshness, threshold: 1m, objective: 99.9%}
      - {name: latency, sli: latency, objective: 99%}
owners:
  orders-team: {slack_channel: "#orders-data"}
`
	// Every problem is reported, placed in the file; there is no Config.
	cfg, _, err := config.Load("config.yaml", []byte(doc), nil)
	fmt.Println(cfg == nil, err)

	// With the threshold set, the configuration loads, defaults applied.
	fixed := strings.Replace(doc, "sli: latency,", "sli: latency, threshold: 1s,", 1)
	cfg, problems, err := config.Load("config.yaml", []byte(fixed), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cfg.Products[0]
	fmt.Println(len(problems), p.Tier, p.SLOs[1].Threshold, p.SLOs[1].Objective, p.SLOs[1].Window)
	// Packages that check the configuration further place their problems
	// with Position.
	fmt.Println(cfg.Position("products[0].slos[1].threshold"))
	// Output:
	// true config.yaml:10:9: products[0].slos[1].threshold: is required for sli latency, e.g. threshold: 1s
	// 0 2 1s 99% 28d
	// config.yaml:10:50
}
