package cost

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// Egress policies: who pays for what a consumer group reads.
const (
	ConsumerPays = "consumer_pays" // the group's owner (default)
	ProducerPays = "producer_pays" // the product's owner
	SplitPays    = "split"         // half each, to the nano-unit
)

// Shared-pool spreads: how the cost of internal topics reaches products.
const (
	SpreadEven     = "even"     // the same share to every product (default)
	SpreadWeighted = "weighted" // in proportion to each product's direct cost
	SpreadNone     = "none"     // kept as __shared__ rows
)

// Storage bases of the storage price.
const (
	BasisPhysical = "physical" // bytes on disk of every replica (default)
	BasisLogical  = "logical"  // bytes of one replica
)

// Defaults.
const (
	DefaultCurrency      = "USD"
	DefaultDaily         = "5 0 * * *"
	DefaultMonthly       = "30 0 1 * *"
	DefaultSample        = time.Minute
	DefaultPlatformOwner = "platform"
)

// Config is the cost configuration, under the cost: key of config.yaml.
// Every field has a zero value that means "off" or a default, so an empty
// Config meters usage and prices nothing.
type Config struct {
	// Currency is the ISO 4217 code of every amount (default USD).
	Currency string `yaml:"currency"`
	// RateCard holds prices with the date from which each applies; an hour
	// is priced by the latest entry whose from is not after it.
	RateCard []Rate `yaml:"rate_card"`
	// Invoice, when set, allocates a monthly cluster bill in proportion to
	// the rate-card cost instead of charging the rate card.
	Invoice *Invoice `yaml:"invoice"`
	// EgressPolicy: consumer_pays (default), producer_pays or split.
	EgressPolicy string `yaml:"egress_policy"`
	// SharedSpread: even (default), weighted or none.
	SharedSpread string `yaml:"shared_spread"`
	// SharedTopics are regular expressions of topics that belong to the
	// shared pool besides the internal ones (names starting with "__",
	// and _schemas).
	SharedTopics []string `yaml:"shared_topics"`
	// AZSpread says how much client traffic crosses availability zones.
	AZSpread AZSpread `yaml:"az_spread"`
	// Capacity is what the cluster provides; what usage leaves of it is
	// priced as __idle__. Without it there is no idle row in rate-card mode.
	Capacity Capacity `yaml:"capacity"`
	// PlatformOwner is the team charged for the __shared__, __idle__ and
	// __unallocated__ rows (default "platform").
	PlatformOwner string `yaml:"platform_owner"`
	// CostCenters maps product names and team names to cost centers. A
	// product's own cost.cost_center (Options.CostCenter) wins.
	CostCenters map[string]string `yaml:"cost_centers"`
	// Sample is the time between two usage samples (default 1m).
	Sample  meshwatch.Duration `yaml:"sample"`
	Reports Reports            `yaml:"reports"`
	Budgets []Budget           `yaml:"budgets"`
}

// Rate is one effective-dated rate card entry. Prices are per unit in the
// billing currency; a zero price charges nothing.
type Rate struct {
	From           Date   `yaml:"from"`
	StorageGiBHour Money  `yaml:"storage_gib_hour"`
	StorageBasis   string `yaml:"storage_basis"` // physical (default) | logical
	PartitionHour  Money  `yaml:"partition_hour"`
	IngressGiB     Money  `yaml:"ingress_gib"`
	EgressGiB      Money  `yaml:"egress_gib"`
	CrossAZGiB     Money  `yaml:"cross_az_gib"`
}

// Invoice is a monthly cluster bill to allocate.
type Invoice struct {
	// Monthly is the bill of every month not listed in Bills.
	Monthly Money `yaml:"monthly"`
	// Bills are the bills of given months, keyed "2026-05".
	Bills map[string]Money `yaml:"bills"`
}

// Bill returns the bill of the month that starts at month.
func (inv *Invoice) Bill(month time.Time) Money {
	if b, ok := inv.Bills[month.UTC().Format("2006-01")]; ok {
		return b
	}
	return inv.Monthly
}

// AZSpread is the assumption about client traffic across zones. Replication
// traffic is measured from the replicas' racks; clients' racks are not
// visible to the agent.
type AZSpread struct {
	// CrossAZ is the share of client traffic (produce and fetch) that
	// crosses zones, in [0, 1]. Unset, it is (zones − 1) / zones.
	CrossAZ *float64 `yaml:"cross_az"`
	// Zones is the number of zones clients are spread over evenly. Unset,
	// it is the number of distinct broker racks.
	Zones int `yaml:"zones"`
}

// Capacity is what the cluster offers, for the __idle__ rows.
type Capacity struct {
	StorageGiB int64 `yaml:"storage_gib"` // on the storage basis of the rate
	Partitions int64 `yaml:"partitions"`
}

// Reports configures the closes and the report files.
type Reports struct {
	// Dir is where the daily and monthly CSV and FOCUS files are written;
	// empty writes none (the ledger and the API still work).
	Dir string `yaml:"dir"`
	// Daily and Monthly are cron expressions (5 fields, or @daily…) in UTC
	// of the day and month closes (defaults "5 0 * * *", "30 0 1 * *").
	Daily   string `yaml:"daily"`
	Monthly string `yaml:"monthly"`
	// Finance is the team whose channel receives the monthly summary.
	Finance string `yaml:"finance"`
}

// Budget is a monthly budget of one product or one cost center.
type Budget struct {
	Product    string `yaml:"product"`
	CostCenter string `yaml:"cost_center"`
	Monthly    Money  `yaml:"monthly"`
}

// Name returns "product:<name>" or "cost_center:<name>".
func (b Budget) Name() string {
	if b.Product != "" {
		return "product:" + b.Product
	}
	return "cost_center:" + b.CostCenter
}

// Date is a time in the config, written as a date ("2026-01-01", midnight
// UTC) or an RFC 3339 time.
type Date struct{ time.Time }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New(`must be a date like "2026-01-01" or an RFC 3339 time`)
	}
	t, err := parseDate(n.Value)
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf(`must be a date like "2026-01-01" or an RFC 3339 time, got %q`, s)
}

// SetDefaults fills the fields whose zero value stands for a default.
func (c *Config) SetDefaults() {
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.EgressPolicy == "" {
		c.EgressPolicy = ConsumerPays
	}
	if c.SharedSpread == "" {
		c.SharedSpread = SpreadEven
	}
	if c.PlatformOwner == "" {
		c.PlatformOwner = DefaultPlatformOwner
	}
	if c.Sample == 0 {
		c.Sample = meshwatch.Duration(DefaultSample)
	}
	if c.Reports.Daily == "" {
		c.Reports.Daily = DefaultDaily
	}
	if c.Reports.Monthly == "" {
		c.Reports.Monthly = DefaultMonthly
	}
	for i := range c.RateCard {
		if c.RateCard[i].StorageBasis == "" {
			c.RateCard[i].StorageBasis = BasisPhysical
		}
	}
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// cronParser accepts what robfig/cron's ParseStandard accepts: five fields
// or a descriptor such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate returns every problem of c at once, each with its path under
// "cost" (for example "cost.rate_card[1].from") so that the loader can place
// it in the file. Call SetDefaults first. products names the configured
// products, to check budgets against; nil skips that check.
func (c *Config) Validate(products []string) meshwatch.Problems {
	var ps meshwatch.Problems
	bad := func(path, format string, args ...any) {
		ps = append(ps, meshwatch.Problem{Path: "cost." + path, Msg: fmt.Sprintf(format, args...)})
	}
	if !currencyRE.MatchString(c.Currency) {
		bad("currency", "must be an ISO 4217 code such as USD, got %q", c.Currency)
	}
	if !slices.Contains([]string{ConsumerPays, ProducerPays, SplitPays}, c.EgressPolicy) {
		bad("egress_policy", "must be consumer_pays, producer_pays or split, got %q", c.EgressPolicy)
	}
	if !slices.Contains([]string{SpreadEven, SpreadWeighted, SpreadNone}, c.SharedSpread) {
		bad("shared_spread", "must be even, weighted or none, got %q", c.SharedSpread)
	}
	for i, p := range c.SharedTopics {
		if _, err := regexp.Compile(p); err != nil {
			bad(fmt.Sprintf("shared_topics[%d]", i), "must be a regular expression: %v", err)
		}
	}
	if x := c.AZSpread.CrossAZ; x != nil && (*x < 0 || *x > 1) {
		bad("az_spread.cross_az", "must be in [0, 1], got %v", *x)
	}
	if c.AZSpread.Zones < 0 {
		bad("az_spread.zones", "must be ≥ 0, got %d", c.AZSpread.Zones)
	}
	if c.Capacity.StorageGiB < 0 {
		bad("capacity.storage_gib", "must be ≥ 0, got %d", c.Capacity.StorageGiB)
	}
	if c.Capacity.Partitions < 0 {
		bad("capacity.partitions", "must be ≥ 0, got %d", c.Capacity.Partitions)
	}
	if c.Sample.Std() < time.Second || c.Sample.Std() > 15*time.Minute {
		bad("sample", "must be between 1s and 15m, got %s", c.Sample)
	}
	seen := map[time.Time]int{}
	for i, r := range c.RateCard {
		path := fmt.Sprintf("rate_card[%d]", i)
		if r.From.IsZero() {
			bad(path+".from", `is required: the date from which the rates apply, like "2026-01-01"`)
		} else if j, dup := seen[r.From.Time]; dup {
			bad(path+".from", "repeats rate_card[%d].from %s; each entry needs its own date", j, r.From.Format(time.DateOnly))
		} else {
			seen[r.From.Time] = i
		}
		if r.StorageBasis != BasisPhysical && r.StorageBasis != BasisLogical {
			bad(path+".storage_basis", "must be physical or logical, got %q", r.StorageBasis)
		}
		for _, f := range []struct {
			name string
			v    Money
		}{{"storage_gib_hour", r.StorageGiBHour}, {"partition_hour", r.PartitionHour}, {"ingress_gib", r.IngressGiB}, {"egress_gib", r.EgressGiB}, {"cross_az_gib", r.CrossAZGiB}} {
			if f.v < 0 {
				bad(path+"."+f.name, "must be ≥ 0, got %s", f.v)
			}
		}
	}
	if c.Invoice != nil {
		if c.Invoice.Monthly < 0 {
			bad("invoice.monthly", "must be ≥ 0, got %s", c.Invoice.Monthly)
		}
		if c.Invoice.Monthly%Cent != 0 {
			bad("invoice.monthly", "must be a whole number of cents, got %s", c.Invoice.Monthly)
		}
		for k, v := range c.Invoice.Bills {
			if _, err := time.Parse("2006-01", k); err != nil {
				bad("invoice.bills."+k, `the key must be a month like "2026-05", got %q`, k)
			}
			if v < 0 || v%Cent != 0 {
				bad("invoice.bills."+k, "must be ≥ 0 and a whole number of cents, got %s", v)
			}
		}
		if len(c.RateCard) == 0 {
			bad("invoice", "needs a rate_card: the bill is allocated in proportion to rate-card cost")
		}
	}
	if _, err := cronParser.Parse(c.Reports.Daily); err != nil {
		bad("reports.daily", "must be a cron expression (5 fields or @daily): %v", err)
	}
	if _, err := cronParser.Parse(c.Reports.Monthly); err != nil {
		bad("reports.monthly", "must be a cron expression (5 fields or @monthly): %v", err)
	}
	for i, b := range c.Budgets {
		path := fmt.Sprintf("budgets[%d]", i)
		switch {
		case (b.Product == "") == (b.CostCenter == ""):
			bad(path, "needs exactly one of product or cost_center")
		case b.Product != "" && products != nil && !slices.Contains(products, b.Product):
			bad(path+".product", "names no configured product: %q", b.Product)
		}
		if b.Monthly <= 0 {
			bad(path+".monthly", "must be > 0, got %s", b.Monthly)
		}
	}
	return ps
}

// MarshalYAML writes d as a date ("2026-01-01"), as it is read.
func (d Date) MarshalYAML() (any, error) { return d.Format(time.DateOnly), nil }
