package cost

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meshwatch/meshwatch"
)

var hour0 = time.Date(2026, 6, 3, 10, 0, 0, 0, time.UTC) // June: 720 hours

func mustMoney(t testing.TB, s string) Money {
	t.Helper()
	m, err := ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testRate is the rate card of the hand-worked examples: round prices so
// that every expected amount can be checked by hand.
func testRate(t testing.TB) Rate {
	return Rate{
		From:           Date{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		StorageGiBHour: mustMoney(t, "0.10"),
		StorageBasis:   BasisPhysical,
		PartitionHour:  mustMoney(t, "0.01"),
		IngressGiB:     mustMoney(t, "0.05"),
		EgressGiB:      mustMoney(t, "0.08"),
		CrossAZGiB:     mustMoney(t, "0.02"),
	}
}

func testProducts() []meshwatch.Product {
	return []meshwatch.Product{
		{
			Name: "checkout.orders.placed", Domain: "checkout", Owner: "orders-team",
			Topics:    []meshwatch.TopicSelector{{Name: "checkout.orders.placed"}},
			Consumers: []meshwatch.Consumer{{Group: "fraud-detector", Owner: "fraud-team"}},
		},
		{
			Name: "payments.charges.settled", Domain: "payments", Owner: "payments-team",
			Topics: []meshwatch.TopicSelector{{Name: "payments.charges.settled"}},
		},
	}
}

func half() *float64 { v := 0.5; return &v }

// line is what the hand-worked tables compare of a row.
type line struct {
	Product, Owner, CostCenter, Component, Topic, Group, Pool, Method string
	Quantity                                                          int64
	Cost                                                              string
}

func lines(rows []Row) []line {
	out := make([]line, len(rows))
	for i, r := range rows {
		out[i] = line{r.Product, r.Owner, r.CostCenter, r.Component, r.Topic, r.Group, r.Pool, r.Method, r.Quantity, r.Cost.String()}
	}
	return out
}

func newTestPricer(t testing.TB, mutate func(*Config)) *Pricer {
	t.Helper()
	cfg := Config{
		RateCard:    []Rate{testRate(t)},
		AZSpread:    AZSpread{CrossAZ: half()},
		CostCenters: map[string]string{"fraud-team": "CC-7", "platform": "CC-0"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := NewPricer("test", cfg, testProducts(), func(p *meshwatch.Product) string {
		if p.Name == "checkout.orders.placed" {
			return "CC-1042"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAllocateHandWorked(t *testing.T) {
	const orders, payments = "checkout.orders.placed", "payments.charges.settled"
	full := func(topics ...TopicUsage) Usage {
		return Usage{Hour: hour0, Seconds: 3600, Zones: 3, Topics: topics}
	}
	egress := TopicUsage{Topic: orders, Groups: []GroupUsage{{Group: "fraud-detector", EgressBytes: 10 * gib}}}
	tests := []struct {
		name   string
		mutate func(*Config)
		usage  Usage
		want   []line
	}{
		{
			// 1 GiB of records on 3 replicas for an hour: 3 GiB-hours on
			// the physical basis at 0.10 = 0.30; 2 partitions at 0.01.
			name:  "replication physical",
			usage: full(TopicUsage{Topic: orders, PartitionSeconds: 2 * 3600, StorageByteHours: 3 * gib, LogicalByteHours: gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "partitions", orders, "", "", "direct", 7200, "0.02"},
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", 3 * gib, "0.30"},
			},
		},
		{
			name:   "replication logical",
			mutate: func(c *Config) { c.RateCard[0].StorageBasis = BasisLogical },
			usage:  full(TopicUsage{Topic: orders, StorageByteHours: 3 * gib, LogicalByteHours: gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", gib, "0.10"},
			},
		},
		{
			// 2 GiB in at 0.05 = 0.10. Cross-AZ: 4 GiB replicated to
			// followers in other racks + half of the 2 GiB produced by
			// clients (cross_az 0.5) = 5 GiB at 0.02 = 0.10.
			name:  "cross-AZ replication and clients",
			usage: full(TopicUsage{Topic: orders, IngressBytes: 2 * gib, CrossAZReplicationBytes: 4 * gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "cross_az", orders, "", "", "direct", 5 * gib, "0.10"},
				{orders, "orders-team", "CC-1042", "ingress", orders, "", "", "direct", 2 * gib, "0.10"},
			},
		},
		{
			// Zones from the racks: with 3 zones, 2/3 of client traffic
			// crosses: 3 GiB in → 2 GiB cross-AZ at 0.02 = 0.04.
			name:   "cross-AZ assumed from racks",
			mutate: func(c *Config) { c.AZSpread = AZSpread{} },
			usage:  full(TopicUsage{Topic: orders, IngressBytes: 3 * gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "cross_az", orders, "", "", "direct", 2 * gib, "0.04"},
				{orders, "orders-team", "CC-1042", "ingress", orders, "", "", "direct", 3 * gib, "0.15"},
			},
		},
		{
			// 10 GiB read at 0.08 = 0.80, half of it across zones: 5 GiB
			// at 0.02 = 0.10; all to the consuming team.
			name:  "egress consumer pays",
			usage: full(egress),
			want: []line{
				{orders, "fraud-team", "CC-7", "cross_az", orders, "fraud-detector", "", "egress-consumer-pays", 5 * gib, "0.10"},
				{orders, "fraud-team", "CC-7", "egress", orders, "fraud-detector", "", "egress-consumer-pays", 10 * gib, "0.80"},
			},
		},
		{
			name:   "egress producer pays",
			mutate: func(c *Config) { c.EgressPolicy = ProducerPays },
			usage:  full(egress),
			want: []line{
				{orders, "orders-team", "CC-1042", "cross_az", orders, "fraud-detector", "", "egress-producer-pays", 5 * gib, "0.10"},
				{orders, "orders-team", "CC-1042", "egress", orders, "fraud-detector", "", "egress-producer-pays", 10 * gib, "0.80"},
			},
		},
		{
			name:   "egress split",
			mutate: func(c *Config) { c.EgressPolicy = SplitPays },
			usage:  full(egress),
			want: []line{
				{orders, "fraud-team", "CC-7", "cross_az", orders, "fraud-detector", "", "egress-split", 5 * gib / 2, "0.05"},
				{orders, "orders-team", "CC-1042", "cross_az", orders, "fraud-detector", "", "egress-split", 5 * gib / 2, "0.05"},
				{orders, "fraud-team", "CC-7", "egress", orders, "fraud-detector", "", "egress-split", 5 * gib, "0.40"},
				{orders, "orders-team", "CC-1042", "egress", orders, "fraud-detector", "", "egress-split", 5 * gib, "0.40"},
			},
		},
		{
			// An undeclared group under consumer_pays is charged to
			// "unknown", not dropped.
			name:  "egress of an undeclared group",
			usage: full(TopicUsage{Topic: orders, Groups: []GroupUsage{{Group: "adhoc", EgressBytes: gib}}}),
			want: []line{
				{orders, "unknown", "", "cross_az", orders, "adhoc", "", "egress-consumer-pays", gib / 2, "0.01"},
				{orders, "unknown", "", "egress", orders, "adhoc", "", "egress-consumer-pays", gib, "0.08"},
			},
		},
		{
			// __consumer_offsets holds 1 GiB-hour: 0.10, spread evenly
			// over the two products.
			name:  "shared even",
			usage: full(TopicUsage{Topic: "__consumer_offsets", StorageByteHours: gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "storage", "", "", "__shared__", "shared-even", gib / 2, "0.05"},
				{payments, "payments-team", "", "storage", "", "", "__shared__", "shared-even", gib / 2, "0.05"},
			},
		},
		{
			// Direct costs 0.30 and 0.10 weigh the 0.10 pool 3:1.
			name:   "shared weighted",
			mutate: func(c *Config) { c.SharedSpread = SpreadWeighted },
			usage: full(
				TopicUsage{Topic: "__consumer_offsets", StorageByteHours: gib},
				TopicUsage{Topic: orders, StorageByteHours: 3 * gib},
				TopicUsage{Topic: payments, StorageByteHours: gib},
			),
			want: []line{
				{orders, "orders-team", "CC-1042", "storage", "", "", "__shared__", "shared-weighted", 3 * gib / 4, "0.075"},
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", 3 * gib, "0.30"},
				{payments, "payments-team", "", "storage", "", "", "__shared__", "shared-weighted", gib / 4, "0.025"},
				{payments, "payments-team", "", "storage", payments, "", "", "direct", gib, "0.10"},
			},
		},
		{
			name:   "shared kept",
			mutate: func(c *Config) { c.SharedSpread = SpreadNone },
			usage:  full(TopicUsage{Topic: "__consumer_offsets", StorageByteHours: gib}),
			want: []line{
				{"__shared__", "platform", "CC-0", "storage", "", "", "", "pool", gib, "0.10"},
			},
		},
		{
			// Capacity 10 GiB and 10 partitions; 3 GiB-hours and 3
			// partition-hours used: 7 × 0.10 and 7 × 0.01 idle.
			name:   "idle",
			mutate: func(c *Config) { c.Capacity = Capacity{StorageGiB: 10, Partitions: 10} },
			usage:  full(TopicUsage{Topic: orders, StorageByteHours: 3 * gib, PartitionSeconds: 3 * 3600}),
			want: []line{
				{"__idle__", "platform", "CC-0", "partitions", "", "", "", "pool", 7 * 3600, "0.07"},
				{"__idle__", "platform", "CC-0", "storage", "", "", "", "pool", 7 * gib, "0.70"},
				{orders, "orders-team", "CC-1042", "partitions", orders, "", "", "direct", 3 * 3600, "0.03"},
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", 3 * gib, "0.30"},
			},
		},
		{
			// Half an hour metered: half the capacity is prorated.
			name:   "idle prorated",
			mutate: func(c *Config) { c.Capacity = Capacity{StorageGiB: 10} },
			usage:  Usage{Hour: hour0, Seconds: 1800, Topics: []TopicUsage{{Topic: orders, StorageByteHours: gib}}},
			want: []line{
				{"__idle__", "platform", "CC-0", "storage", "", "", "", "pool", 4 * gib, "0.40"},
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", gib, "0.10"},
			},
		},
		{
			name: "unallocated",
			usage: full(TopicUsage{Topic: "legacy.audit", StorageByteHours: gib,
				Groups: []GroupUsage{{Group: "old-etl", EgressBytes: gib}}}),
			want: []line{
				{"__unallocated__", "platform", "CC-0", "cross_az", "legacy.audit", "old-etl", "", "pool", gib / 2, "0.01"},
				{"__unallocated__", "platform", "CC-0", "egress", "legacy.audit", "old-etl", "", "pool", gib, "0.08"},
				{"__unallocated__", "platform", "CC-0", "storage", "legacy.audit", "", "", "pool", gib, "0.10"},
			},
		},
		{
			// A 7200.00 bill over June's 720 hours is 10.00 an hour, split
			// 3:1 by the rate-card costs 0.30 and 0.10.
			name: "invoice",
			mutate: func(c *Config) {
				c.Invoice = &Invoice{Monthly: mustMoney(t, "7200")}
			},
			usage: full(TopicUsage{Topic: orders, StorageByteHours: 3 * gib}, TopicUsage{Topic: payments, StorageByteHours: gib}),
			want: []line{
				{orders, "orders-team", "CC-1042", "storage", orders, "", "", "direct", 3 * gib, "7.50"},
				{payments, "payments-team", "", "storage", payments, "", "", "direct", gib, "2.50"},
			},
		},
		{
			name: "invoice with nothing used",
			mutate: func(c *Config) {
				c.Invoice = &Invoice{Monthly: mustMoney(t, "7200")}
			},
			usage: full(),
			want: []line{
				{"__idle__", "platform", "CC-0", "cluster", "", "", "", "invoice-share", 3600, "10.00"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPricer(t, tt.mutate)
			got := p.Allocate(tt.usage, hour0.Add(time.Hour))
			if diff := cmp.Diff(tt.want, lines(got)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvoiceMonthSumsToBillToTheCent(t *testing.T) {
	// July has 744 hours: 1000.00 does not divide evenly (134.408… cents
	// an hour), and three rows of awkward weights share each hour.
	july := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	p := newTestPricer(t, func(c *Config) {
		c.Invoice = &Invoice{Monthly: mustMoney(t, "99999.99"), Bills: map[string]Money{"2026-07": mustMoney(t, "1000.00")}}
		c.Capacity = Capacity{StorageGiB: 7}
	})
	var month Money
	for h := july; h.Before(july.AddDate(0, 1, 0)); h = h.Add(time.Hour) {
		rows := p.Allocate(Usage{Hour: h, Seconds: 3600, Topics: []TopicUsage{
			{Topic: "checkout.orders.placed", StorageByteHours: gib / 3, IngressBytes: int64(h.Hour()) * 12345},
			{Topic: "__consumer_offsets", StorageByteHours: gib / 7},
		}}, h)
		var hourSum Money
		for _, r := range rows {
			if r.Cost%Cent != 0 {
				t.Fatalf("%s: row %+v is not a whole number of cents", h, r)
			}
			hourSum += r.Cost
		}
		if want := p.HourShare(h); hourSum != want {
			t.Fatalf("%s: rows sum to %s, want the hour's share %s", h, hourSum, want)
		}
		month += hourSum
	}
	if want := mustMoney(t, "1000.00"); month != want {
		t.Errorf("July's rows sum to %s, want the bill %s", month, want)
	}
}

func TestSplitSumsToPool(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		n := 1 + r.IntN(40)
		weights := make([]int64, n)
		var sum int64
		for j := range weights {
			switch r.IntN(5) {
			case 0: // zero weights, and sometimes all of them
			case 1:
				weights[j] = -r.Int64N(100) // negative counts as zero
			default:
				weights[j] = r.Int64N(1 << (10 + r.IntN(40)))
			}
			sum += max(weights[j], 0)
		}
		quantum := Money(1)
		if r.IntN(3) == 0 {
			quantum = Cent
		}
		total := Money(r.Int64N(1<<(1+r.IntN(60)))) / quantum * quantum
		if r.IntN(4) == 0 {
			total = -total
		}
		parts := Split(total, weights, quantum)
		var got Money
		for j, p := range parts {
			got += p
			if p%quantum != 0 {
				t.Fatalf("case %d: part %d = %d is not a multiple of %d", i, j, p, quantum)
			}
			// Each part is within one quantum of its exact share.
			w, s := float64(max(weights[j], 0)), float64(sum)
			if sum == 0 {
				w, s = 1, float64(n)
			}
			exact := float64(total) * w / s
			// The float is only a check; allow for its own rounding.
			tol := float64(quantum) + 1 + 1e-12*max(exact, -exact)
			if d := float64(p) - exact; d > tol || d < -tol {
				t.Fatalf("case %d: part %d = %d, exact share %.1f", i, j, p, exact)
			}
		}
		if got != total {
			t.Fatalf("case %d: parts of %d sum to %d (weights %v)", i, total, got, weights)
		}
	}
}

func TestAllocationsSumToTheirPools(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		spread := []string{SpreadEven, SpreadWeighted}[i%2]
		policy := []string{ConsumerPays, ProducerPays, SplitPays}[i%3]
		p := newTestPricer(t, func(c *Config) { c.SharedSpread, c.EgressPolicy = spread, policy })
		var topics []TopicUsage
		for _, name := range []string{"__consumer_offsets", "__transaction_state", "checkout.orders.placed", "payments.charges.settled", "legacy"} {
			tu := TopicUsage{Topic: name, StorageByteHours: r.Int64N(1 << 45), PartitionSeconds: r.Int64N(1 << 20),
				IngressBytes: r.Int64N(1 << 40), CrossAZReplicationBytes: r.Int64N(1 << 40)}
			for g := range r.IntN(3) {
				tu.Groups = append(tu.Groups, GroupUsage{Group: fmt.Sprint("g", g), EgressBytes: r.Int64N(1 << 40)})
			}
			topics = append(topics, tu)
		}
		u := Usage{Hour: hour0, Seconds: 3600, Zones: 3, Topics: topics}
		rows := p.Allocate(u, hour0)

		// The pool: every charge of the internal topics, priced alone.
		rate := testRate(t)
		var pool, all Money
		for _, tu := range topics {
			x := tu.CrossAZReplicationBytes + scale(tu.IngressBytes, 0.5)
			c := p.price(rate, ComponentStorage, tu.StorageByteHours) + p.price(rate, ComponentPartitions, tu.PartitionSeconds) +
				p.price(rate, ComponentIngress, tu.IngressBytes) + p.price(rate, ComponentCrossAZ, x)
			for _, g := range tu.Groups {
				c += p.price(rate, ComponentEgress, g.EgressBytes) + p.price(rate, ComponentCrossAZ, scale(g.EgressBytes, 0.5))
			}
			all += c
			if p.IsShared(tu.Topic) {
				pool += c
			}
		}
		var spreadSum Money
		for _, row := range rows {
			if row.Pool == Shared {
				spreadSum += row.Cost
			}
		}
		if spreadSum != pool {
			t.Fatalf("case %d (%s): shared rows sum to %s, pool is %s", i, spread, spreadSum, pool)
		}
		if got := Total(rows); got != all {
			t.Fatalf("case %d (%s, %s): rows sum to %s, the hour costs %s", i, spread, policy, got, all)
		}
	}
}

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in      string
		want    Money
		wantErr bool
	}{
		{"0.10", 100_000_000, false},
		{"12000", 12000 * Nano, false},
		{"-1.5", -1_500_000_000, false},
		{".5", 500_000_000, false},
		{"0.000000001", 1, false},
		{"0.0000000001", 0, true},
		{"1e3", 0, true},
		{"", 0, true},
		{"1.2.3", 0, true},
		{"99999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMoney(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseMoney(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	if s := Money(100_000_000).String(); s != "0.10" {
		t.Errorf("String = %q", s)
	}
	if s := Money(-1).String(); s != "-0.000000001" {
		t.Errorf("String = %q", s)
	}
}
