package cost

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch"
)

// Pricer prices an hour of usage and allocates it to products, teams and
// pools: usage → rows. It does no I/O; its methods are safe for concurrent
// use.
type Pricer struct {
	cluster    string
	cfg        Config
	products   []*meshwatch.Product
	costCenter func(*meshwatch.Product) string
	shared     []*regexp.Regexp
}

// NewPricer returns a Pricer of cfg (defaults set, valid) for the products
// of the cluster named cluster, in config order: a topic two products claim
// belongs to the first. costCenter
// returns a product's cost center ("" for none, then cfg.CostCenters
// decides); it may be nil.
func NewPricer(cluster string, cfg Config, products []meshwatch.Product, costCenter func(*meshwatch.Product) string) (*Pricer, error) {
	cfg.SetDefaults()
	if ps := cfg.Validate(nil); len(ps.Errors()) > 0 {
		return nil, fmt.Errorf("cost: invalid config: %w", ps.Errors())
	}
	p := &Pricer{cluster: cluster, cfg: cfg, costCenter: costCenter}
	for i := range products {
		p.products = append(p.products, &products[i])
	}
	for _, s := range cfg.SharedTopics {
		p.shared = append(p.shared, regexp.MustCompile(s))
	}
	slices.SortStableFunc(p.cfg.RateCard, func(a, b Rate) int { return a.From.Compare(b.From.Time) })
	return p, nil
}

// Currency returns the billing currency.
func (p *Pricer) Currency() string { return p.cfg.Currency }

// rate returns the rate card entry in force at t, and false if none is.
func (p *Pricer) rate(t time.Time) (Rate, bool) {
	var r Rate
	ok := false
	for _, e := range p.cfg.RateCard {
		if e.From.After(t) {
			break
		}
		r, ok = e, true
	}
	return r, ok
}

// IsShared reports whether topic belongs to the shared pool: an internal
// topic (a name starting with "__", or _schemas) or one of
// cost.shared_topics.
func (p *Pricer) IsShared(topic string) bool {
	if strings.HasPrefix(topic, "__") || topic == "_schemas" {
		return true
	}
	for _, re := range p.shared {
		if re.MatchString(topic) {
			return true
		}
	}
	return false
}

// Product returns the product that claims topic, or nil.
func (p *Pricer) Product(topic string) *meshwatch.Product {
	for _, pr := range p.products {
		for _, s := range pr.Topics {
			if s.Matches(topic) {
				return pr
			}
		}
	}
	return nil
}

func (p *Pricer) productCostCenter(pr *meshwatch.Product) string {
	if p.costCenter != nil {
		if cc := p.costCenter(pr); cc != "" {
			return cc
		}
	}
	if cc, ok := p.cfg.CostCenters[pr.Name]; ok {
		return cc
	}
	return p.cfg.CostCenters[pr.Owner]
}

// clientCrossAZ is the share of client traffic assumed to cross zones.
func (p *Pricer) clientCrossAZ(zones int) float64 {
	if x := p.cfg.AZSpread.CrossAZ; x != nil {
		return *x
	}
	if p.cfg.AZSpread.Zones > 0 {
		zones = p.cfg.AZSpread.Zones
	}
	if zones <= 1 {
		return 0
	}
	return float64(zones-1) / float64(zones)
}

// charge is a priced quantity before it is allocated.
type charge struct {
	component string
	quantity  int64
	cost      Money
}

func (p *Pricer) price(r Rate, component string, q int64) Money {
	switch component {
	case ComponentStorage:
		return mulDiv(q, r.StorageGiBHour, gib)
	case ComponentPartitions:
		return mulDiv(q, r.PartitionHour, secondsPerHr)
	case ComponentIngress:
		return mulDiv(q, r.IngressGiB, gib)
	case ComponentEgress:
		return mulDiv(q, r.EgressGiB, gib)
	case ComponentCrossAZ:
		return mulDiv(q, r.CrossAZGiB, gib)
	}
	return 0
}

func scale(q int64, f float64) int64 {
	if q <= 0 || f <= 0 {
		return 0
	}
	return int64(math.Round(float64(q) * f))
}

// Allocate prices one hour of usage with the rate card in force at its
// start and allocates it. The rows sum to the hour's total: in rate-card
// mode the rate-card cost of every topic, pool and idle capacity; in
// invoice mode the hour's share of the month's bill, to the cent. Rows
// whose quantity and cost are both zero are left out. recorded stamps the
// rows.
func (p *Pricer) Allocate(u Usage, recorded time.Time) []Row {
	hour := u.Hour.UTC().Truncate(time.Hour)
	r, _ := p.rate(hour)
	basis := r.StorageBasis
	crossAZ := p.clientCrossAZ(u.Zones)
	b := rowBuilder{hour: hour, recorded: recorded.UTC(), currency: p.cfg.Currency, cluster: p.cluster, rate: r}

	platform := p.cfg.PlatformOwner
	platformCC := p.cfg.CostCenters[platform]
	pool := map[string]*charge{} // component → shared pool
	addPool := func(c charge) {
		pc := pool[c.component]
		if pc == nil {
			pc = &charge{component: c.component}
			pool[c.component] = pc
		}
		pc.quantity += c.quantity
		pc.cost += c.cost
	}
	direct := map[*meshwatch.Product]Money{} // for the weighted spread

	topics := slices.Clone(u.Topics)
	slices.SortFunc(topics, func(a, b TopicUsage) int { return strings.Compare(a.Topic, b.Topic) })
	var usedStorage, usedPartitions int64
	for _, t := range topics {
		storageQ := t.StorageByteHours
		if basis == BasisLogical {
			storageQ = t.LogicalByteHours
		}
		usedStorage += storageQ
		usedPartitions += t.PartitionSeconds
		producerSide := []charge{
			{ComponentStorage, storageQ, p.price(r, ComponentStorage, storageQ)},
			{ComponentPartitions, t.PartitionSeconds, p.price(r, ComponentPartitions, t.PartitionSeconds)},
			{ComponentIngress, t.IngressBytes, p.price(r, ComponentIngress, t.IngressBytes)},
		}
		xaz := t.CrossAZReplicationBytes + scale(t.IngressBytes, crossAZ)
		producerSide = append(producerSide, charge{ComponentCrossAZ, xaz, p.price(r, ComponentCrossAZ, xaz)})

		switch pr := p.Product(t.Topic); {
		case p.IsShared(t.Topic):
			for _, c := range producerSide {
				addPool(c)
			}
			for _, g := range t.Groups {
				addPool(charge{ComponentEgress, g.EgressBytes, p.price(r, ComponentEgress, g.EgressBytes)})
				x := scale(g.EgressBytes, crossAZ)
				addPool(charge{ComponentCrossAZ, x, p.price(r, ComponentCrossAZ, x)})
			}
		case pr == nil:
			for _, c := range producerSide {
				b.add(Row{Product: Unallocated, Owner: platform, CostCenter: platformCC, Component: c.component,
					Topic: t.Topic, Method: MethodPool, Quantity: c.quantity, ListCost: c.cost})
			}
			for _, g := range t.Groups {
				x := scale(g.EgressBytes, crossAZ)
				for _, c := range []charge{
					{ComponentEgress, g.EgressBytes, p.price(r, ComponentEgress, g.EgressBytes)},
					{ComponentCrossAZ, x, p.price(r, ComponentCrossAZ, x)},
				} {
					b.add(Row{Product: Unallocated, Owner: platform, CostCenter: platformCC, Component: c.component,
						Topic: t.Topic, Group: g.Group, Method: MethodPool, Quantity: c.quantity, ListCost: c.cost})
				}
			}
		default:
			cc := p.productCostCenter(pr)
			for _, c := range producerSide {
				b.add(Row{Product: pr.Name, Domain: pr.Domain, Owner: pr.Owner, CostCenter: cc, Component: c.component,
					Topic: t.Topic, Method: MethodDirect, Quantity: c.quantity, ListCost: c.cost})
				direct[pr] += c.cost
			}
			for _, g := range t.Groups {
				x := scale(g.EgressBytes, crossAZ)
				for _, c := range []charge{
					{ComponentEgress, g.EgressBytes, p.price(r, ComponentEgress, g.EgressBytes)},
					{ComponentCrossAZ, x, p.price(r, ComponentCrossAZ, x)},
				} {
					direct[pr] += c.cost
					p.egress(&b, pr, cc, t.Topic, g.Group, c)
				}
			}
		}
	}

	p.spreadShared(&b, pool, direct)

	// Idle capacity, prorated by the part of the hour that was metered.
	if capGiB := p.cfg.Capacity.StorageGiB; capGiB > 0 {
		capQ := scale(capGiB*gib, float64(u.Seconds)/secondsPerHr)
		if idle := capQ - usedStorage; idle > 0 {
			b.add(Row{Product: Idle, Owner: platform, CostCenter: platformCC, Component: ComponentStorage,
				Method: MethodPool, Quantity: idle, ListCost: p.price(r, ComponentStorage, idle)})
		}
	}
	if capP := p.cfg.Capacity.Partitions; capP > 0 {
		if idle := capP*u.Seconds - usedPartitions; idle > 0 {
			b.add(Row{Product: Idle, Owner: platform, CostCenter: platformCC, Component: ComponentPartitions,
				Method: MethodPool, Quantity: idle, ListCost: p.price(r, ComponentPartitions, idle)})
		}
	}

	rows := b.rows
	if p.cfg.Invoice != nil {
		share := p.HourShare(hour)
		var list Money
		weights := make([]int64, len(rows))
		for i := range rows {
			weights[i] = int64(rows[i].ListCost)
			list += rows[i].ListCost
		}
		if list <= 0 {
			// Nothing priced: the hour's share of the bill is capacity
			// nobody used.
			rows = append(rows, Row{Hour: hour, Product: Idle, Owner: platform, CostCenter: platformCC,
				Component: ComponentCluster, Method: MethodInvoice, Quantity: secondsPerHr,
				Cost: share, Recorded: b.recorded, Currency: b.currency, Cluster: b.cluster})
			for i := range len(rows) - 1 {
				rows[i].Cost = 0
			}
		} else {
			for i, c := range Split(share, weights, Cent) {
				rows[i].Cost = c
			}
		}
	} else {
		for i := range rows {
			rows[i].Cost = rows[i].ListCost
		}
	}
	out := rows[:0]
	for _, row := range rows {
		if row.Quantity != 0 || row.Cost != 0 || row.ListCost != 0 {
			out = append(out, row)
		}
	}
	SortRows(out)
	return out
}

// egress allocates one egress (or its cross-AZ part) of a product's topic
// by the egress policy.
func (p *Pricer) egress(b *rowBuilder, pr *meshwatch.Product, cc, topic, group string, c charge) {
	consumer := pr.ConsumerOwner(group)
	consumerCC := p.cfg.CostCenters[consumer]
	row := Row{Product: pr.Name, Domain: pr.Domain, ProductOwner: pr.Owner, Component: c.component, Topic: topic, Group: group,
		Quantity: c.quantity, ListCost: c.cost}
	switch p.cfg.EgressPolicy {
	case ProducerPays:
		row.Owner, row.CostCenter, row.Method = pr.Owner, cc, MethodEgressProducer
		b.add(row)
	case SplitPays:
		costs := Split(c.cost, []int64{1, 1}, 1)
		qs := Split(Money(c.quantity), []int64{1, 1}, 1)
		row.Method, row.Ratio = MethodEgressSplit, 0.5
		cons, prod := row, row
		cons.Owner, cons.CostCenter, cons.ListCost, cons.Quantity = consumer, consumerCC, costs[0], int64(qs[0])
		prod.Owner, prod.CostCenter, prod.ListCost, prod.Quantity = pr.Owner, cc, costs[1], int64(qs[1])
		b.add(cons)
		b.add(prod)
	default:
		row.Owner, row.CostCenter, row.Method = consumer, consumerCC, MethodEgressConsumer
		b.add(row)
	}
}

// spreadShared allocates the shared pool, component by component, to the
// products: evenly, or in proportion to their direct cost this hour (evenly
// when no product had any). With spread none, or no product, it stays a
// __shared__ row.
func (p *Pricer) spreadShared(b *rowBuilder, pool map[string]*charge, direct map[*meshwatch.Product]Money) {
	platform := p.cfg.PlatformOwner
	for _, comp := range Components {
		c := pool[comp]
		if c == nil || (c.cost == 0 && c.quantity == 0) {
			continue
		}
		if p.cfg.SharedSpread == SpreadNone || len(p.products) == 0 {
			b.add(Row{Product: Shared, Owner: platform, CostCenter: p.cfg.CostCenters[platform], Component: comp,
				Method: MethodPool, Quantity: c.quantity, ListCost: c.cost})
			continue
		}
		weights := make([]int64, len(p.products))
		method := MethodSharedEven
		if p.cfg.SharedSpread == SpreadWeighted {
			method = MethodSharedWeighted
			for i, pr := range p.products {
				weights[i] = int64(direct[pr])
			}
		}
		costs := Split(c.cost, weights, 1)
		qs := Split(Money(c.quantity), weights, 1)
		var sum int64
		for _, w := range weights {
			sum += max(w, 0)
		}
		for i, pr := range p.products {
			ratio := 1 / float64(len(p.products))
			if sum > 0 {
				ratio = float64(max(weights[i], 0)) / float64(sum)
			}
			b.add(Row{Product: pr.Name, Domain: pr.Domain, Owner: pr.Owner, CostCenter: p.productCostCenter(pr),
				Component: comp, Pool: Shared, Method: method, Ratio: ratio, Quantity: int64(qs[i]), ListCost: costs[i]})
		}
	}
}

// HourShare returns the share of its month's bill that the hour starting
// at hour carries in invoice mode: the bill split evenly over the hours of
// the month, to the cent, so that the shares sum to the bill. It is 0
// without an invoice.
func (p *Pricer) HourShare(hour time.Time) Money {
	if p.cfg.Invoice == nil {
		return 0
	}
	hour = hour.UTC().Truncate(time.Hour)
	month := monthStart(hour)
	n := int(monthStart(month.AddDate(0, 1, 0)).Sub(month) / time.Hour)
	i := int(hour.Sub(month) / time.Hour)
	return Split(p.cfg.Invoice.Bill(month), make([]int64, n), Cent)[i]
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

type rowBuilder struct {
	cluster  string
	rate     Rate
	hour     time.Time
	recorded time.Time
	currency string
	rows     []Row
}

func (b *rowBuilder) add(r Row) {
	r.Hour, r.Recorded, r.Currency, r.Cluster = b.hour, b.recorded, b.currency, b.cluster
	r.UnitPrice = unitPrice(b.rate, r.Component)
	if r.ProductOwner == "" && r.Product != Shared && r.Product != Idle && r.Product != Unallocated {
		r.ProductOwner = r.Owner
	}
	b.rows = append(b.rows, r)
}

// unitPrice returns the rate-card price of one pricing unit of component.
func unitPrice(r Rate, component string) Money {
	switch component {
	case ComponentStorage:
		return r.StorageGiBHour
	case ComponentPartitions:
		return r.PartitionHour
	case ComponentIngress:
		return r.IngressGiB
	case ComponentEgress:
		return r.EgressGiB
	case ComponentCrossAZ:
		return r.CrossAZGiB
	}
	return 0
}
