package cost

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch"
)

// Statement is the chargeback of a period for people: per team (owner and
// cost center), product and component, with a subtotal per product and per
// team and a grand total, rounded for display. The monthly Slack summary
// (Summary.Text) and `meshwatch report chargeback -format summary` are both
// its Text.
//
// Rounding: Total is the exact ledger total rounded to the quantum (half
// away from zero). It is split over the teams, each team's amount over its
// products and each product's over its components by the largest-remainder
// method: every amount shown is its exact amount rounded down or up to the
// quantum, never by more than one quantum, and the amounts shown add up
// exactly: components to their product's subtotal, products to their
// team's, teams to the total. A statement cut for one team (ForOwner) keeps
// the amounts of the whole statement, so that a team's summary and the
// finance summary agree to the cent.
type Statement struct {
	From, To time.Time
	Currency string
	// Owner is the team the statement was cut for (ForOwner); "" for every
	// team.
	Owner string
	// Quantum is what amounts are rounded to: Cent unless asked otherwise.
	Quantum Money
	Teams   []StatementTeam
	// Total is the sum of the teams' amounts as shown.
	Total Money
	// Exact is the exact sum of the rows; ClusterExact that of every team's
	// rows (the same unless cut for one team).
	Exact, ClusterExact Money
	// Estimated is the exact part of Exact from the open hour's estimate.
	Estimated Money
	// Charges is the number of ledger rows summed, Corrections how many of
	// them restate a closed hour, CorrectionsExact their sum.
	Charges, Corrections int
	CorrectionsExact     Money
	// OtherTeams are the teams charged in the period that a cut left out.
	OtherTeams []string
}

// StatementTeam is one team's part of a statement.
type StatementTeam struct {
	Owner, CostCenter, Currency string
	// Amount is as shown (rounded), Exact and List the exact billed and
	// rate-card sums of its rows.
	Amount, Exact, List Money
	// Estimate says that some of its rows are the open hour's estimate.
	Estimate bool
	Products []StatementProduct
}

// StatementProduct is what one team is charged for one product (or pool).
type StatementProduct struct {
	Product       string
	Amount, Exact Money
	Components    []StatementLine
}

// StatementLine is one component of a product charged to a team.
type StatementLine struct {
	Component     string
	Amount, Exact Money
}

// ErrCurrencies is returned for a statement of rows in more than one
// currency (the rate card's currency changed within the period).
var ErrCurrencies = errors.New("cost: the period has charges in more than one currency")

// DecimalsQuantum returns the quantum of amounts shown with d decimals
// (2: Cent), and false unless 0 ≤ d ≤ 9.
func DecimalsQuantum(d int) (Money, bool) {
	if d < 0 || d > 9 {
		return 0, false
	}
	q := Nano
	for range d {
		q /= 10
	}
	return q, true
}

// teamKey identifies a team in the totals: the owner charged, the cost
// center the rows carry, and the currency.
type teamKey struct{ owner, costCenter, currency string }

// buildTeams sums rows by team, product and component, exactly; Amount
// fields are left zero. Teams come by owner, cost center and currency;
// products alphabetically with the pools (__shared__, __idle__,
// __unallocated__) last; components in Components order.
func buildTeams(rows []Row) []StatementTeam {
	type prodKey struct {
		team    teamKey
		product string
	}
	teams := map[teamKey]*StatementTeam{}
	products := map[prodKey]map[string]Money{}
	for i := range rows {
		r := &rows[i]
		k := teamKey{r.Owner, r.CostCenter, r.Currency}
		t := teams[k]
		if t == nil {
			t = &StatementTeam{Owner: r.Owner, CostCenter: r.CostCenter, Currency: r.Currency}
			teams[k] = t
		}
		t.Exact += r.Cost
		t.List += r.ListCost
		t.Estimate = t.Estimate || r.Estimate
		pk := prodKey{k, r.Product}
		if products[pk] == nil {
			products[pk] = map[string]Money{}
		}
		products[pk][r.Component] += r.Cost
	}
	keys := make([]teamKey, 0, len(teams))
	for k := range teams {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b teamKey) int {
		return cmp.Or(strings.Compare(a.owner, b.owner), strings.Compare(a.costCenter, b.costCenter), strings.Compare(a.currency, b.currency))
	})
	out := make([]StatementTeam, 0, len(keys))
	for _, k := range keys {
		t := teams[k]
		var names []string
		for pk := range products {
			if pk.team == k {
				names = append(names, pk.product)
			}
		}
		slices.SortFunc(names, compareProducts)
		for _, name := range names {
			comps := products[prodKey{k, name}]
			p := StatementProduct{Product: name}
			for _, c := range componentOrder(comps) {
				p.Components = append(p.Components, StatementLine{Component: c, Exact: comps[c]})
				p.Exact += comps[c]
			}
			t.Products = append(t.Products, p)
		}
		out = append(out, *t)
	}
	return out
}

// poolRank orders the pool products after the data products.
var poolRank = map[string]int{Shared: 1, Idle: 2, Unallocated: 3}

func compareProducts(a, b string) int {
	return cmp.Or(cmp.Compare(poolRank[a], poolRank[b]), strings.Compare(a, b))
}

// componentOrder returns the components of m in Components order, then any
// other (from a newer version's ledger) alphabetically.
func componentOrder(m map[string]Money) []string {
	var out, other []string
	for _, c := range Components {
		if _, ok := m[c]; ok {
			out = append(out, c)
		}
	}
	for c := range m {
		if !slices.Contains(Components, c) {
			other = append(other, c)
		}
	}
	slices.Sort(other)
	return append(out, other...)
}

// NewStatement sums rows (the ledger rows of [from, to), corrections and
// estimates included) into a statement rounded to quantum (Cent if ≤ 0).
// currency is the currency of a statement without rows. Rows in more than
// one currency are an error wrapping ErrCurrencies.
func NewStatement(rows []Row, from, to time.Time, currency string, quantum Money) (*Statement, error) {
	if quantum <= 0 {
		quantum = Cent
	}
	s := &Statement{From: from.UTC(), To: to.UTC(), Currency: currency, Quantum: quantum}
	var currencies []string
	for i := range rows {
		r := &rows[i]
		if !slices.Contains(currencies, r.Currency) {
			currencies = append(currencies, r.Currency)
		}
		s.Exact += r.Cost
		s.Charges++
		if r.Estimate {
			s.Estimated += r.Cost
		}
		if r.Class == ClassCorrection {
			s.Corrections++
			s.CorrectionsExact += r.Cost
		}
	}
	switch len(currencies) {
	case 0:
	case 1:
		s.Currency = currencies[0]
	default:
		slices.Sort(currencies)
		return nil, fmt.Errorf("%w (%s): report the parts before and after the change separately (-from, -to)", ErrCurrencies, strings.Join(currencies, ", "))
	}
	s.ClusterExact = s.Exact
	s.Teams = buildTeams(rows)
	s.Total = roundTo(s.Exact, quantum)
	teamExact := make([]Money, len(s.Teams))
	for i := range s.Teams {
		teamExact[i] = s.Teams[i].Exact
	}
	for i, a := range apportion(s.Total, teamExact, quantum) {
		t := &s.Teams[i]
		t.Amount = a
		prodExact := make([]Money, len(t.Products))
		for j := range t.Products {
			prodExact[j] = t.Products[j].Exact
		}
		for j, pa := range apportion(a, prodExact, quantum) {
			p := &t.Products[j]
			p.Amount = pa
			compExact := make([]Money, len(p.Components))
			for k := range p.Components {
				compExact[k] = p.Components[k].Exact
			}
			for k, ca := range apportion(pa, compExact, quantum) {
				p.Components[k].Amount = ca
			}
		}
	}
	return s, nil
}

// ForOwner returns the statement of the teams whose owner is owner, with
// the amounts of s (so that they match the statement of every team), its
// total the sum of theirs. OtherTeams lists the teams it leaves out.
func (s *Statement) ForOwner(owner string) *Statement {
	c := *s
	c.Owner, c.Teams, c.Total, c.Exact, c.Estimated = owner, nil, 0, 0, 0
	c.Charges, c.Corrections, c.CorrectionsExact, c.OtherTeams = 0, 0, 0, nil
	for _, t := range s.Teams {
		if t.Owner != owner {
			if !slices.Contains(c.OtherTeams, t.Owner) {
				c.OtherTeams = append(c.OtherTeams, t.Owner)
			}
			continue
		}
		c.Teams = append(c.Teams, t)
		c.Total += t.Amount
		c.Exact += t.Exact
	}
	return &c
}

// forOwnerRows is ForOwner with the counts of the owner's rows.
func (s *Statement) forOwnerRows(owner string, rows []Row) *Statement {
	c := s.ForOwner(owner)
	for i := range rows {
		r := &rows[i]
		if r.Owner != owner {
			continue
		}
		c.Charges++
		if r.Estimate {
			c.Estimated += r.Cost
		}
		if r.Class == ClassCorrection {
			c.Corrections++
			c.CorrectionsExact += r.Cost
		}
	}
	return c
}

// roundTo rounds m to a multiple of q, half away from zero.
func roundTo(m, q Money) Money {
	if q <= 1 {
		return m
	}
	r := m % q
	switch {
	case r == 0:
		return m
	case m > 0 && 2*r >= q:
		return m - r + q
	case m > 0:
		return m - r
	case -2*r >= q: // m < 0, r ≤ 0
		return m - r - q
	default:
		return m - r
	}
}

// floorTo returns the largest multiple of q not above m.
func floorTo(m, q Money) Money {
	r := m % q
	if r < 0 {
		r += q
	}
	return m - r
}

// apportion splits target (a multiple of q) over parts whose exact amounts
// are exact, by the largest-remainder method: each part is its exact
// amount rounded down to q, and the quanta left go one each to the parts
// with the largest remainders (the earlier on a tie). With target between
// the sum of exact rounded down and up, each part is its exact amount
// rounded down or up; the parts always sum to target.
func apportion(target Money, exact []Money, q Money) []Money {
	out := make([]Money, len(exact))
	if len(exact) == 0 {
		return out
	}
	rems := make([]Money, len(exact))
	var sum Money
	for i, e := range exact {
		out[i] = floorTo(e, q)
		rems[i] = e - out[i]
		sum += out[i]
	}
	left := (target - sum) / q
	idx := make([]int, len(exact))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	for k := 0; left > 0 && k < len(idx); k++ {
		out[idx[k]] += q
		left--
	}
	// Not reached for a target rounded from the sum of exact; kept so
	// that the parts sum to target whatever it is.
	out[idx[0]] += left*q + (target-sum)%q
	return out
}

// StatementLevel is how deep a statement's table goes.
type StatementLevel int

// Levels of a statement's table.
const (
	LevelTeams StatementLevel = iota + 1
	LevelProducts
	LevelComponents
)

// poolLabels explain the pool products in a statement.
var poolLabels = map[string]string{
	Shared:      Shared + " (internal topics)",
	Idle:        Idle + " (capacity nobody used)",
	Unallocated: Unallocated + " (topics no product claims)",
}

// componentLegend explains each component in a statement's notes.
var componentLegend = map[string]string{
	ComponentStorage:    "GiB-hours on disk, every replica",
	ComponentPartitions: "partition-hours",
	ComponentIngress:    "GiB produced",
	ComponentEgress:     "GiB read by consumer groups",
	ComponentCrossAZ:    "GiB that crossed zones",
	ComponentCluster:    "the bill's share of hours without metered usage",
}

// name is the team's owner and cost center, as its subtotal names it.
func (t *StatementTeam) name() string {
	owner := cmp.Or(t.Owner, "(no owner)")
	if t.CostCenter == "" {
		return owner
	}
	return owner + " (cost center " + t.CostCenter + ")"
}

// label heads the team's part of the table.
func (t *StatementTeam) label() string {
	owner := cmp.Or(t.Owner, "(no owner)")
	if owner == meshwatch.UnknownOwner {
		owner += " (consumer groups no product declares)"
	}
	if t.CostCenter == "" {
		return owner
	}
	return owner + " (cost center " + t.CostCenter + ")"
}

// Who returns whom the statement is for: the team, or "all teams".
func (s *Statement) Who() string {
	if s.Owner != "" {
		return s.Owner
	}
	return "all teams"
}

// PeriodLabel names the period: "June 2026" for a calendar month,
// "2026-06-03" for a day, else its bounds.
func (s *Statement) PeriodLabel() string { return periodLabel(s.From, s.To) }

func periodLabel(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	switch {
	case from.Equal(monthStart(from)) && to.Equal(from.AddDate(0, 1, 0)):
		return from.Format("January 2006")
	case from.Equal(dayStart(from)) && to.Equal(from.AddDate(0, 0, 1)):
		return from.Format(time.DateOnly)
	case from.Equal(dayStart(from)) && to.Equal(dayStart(to)):
		return from.Format(time.DateOnly) + " to " + to.Format(time.DateOnly)
	}
	return stamp(from) + " to " + stamp(to)
}

// amount formats m with the statement's decimals.
func (s *Statement) amount(m Money) string {
	d := 0
	for q := s.Quantum; q < Nano && q > 0; q *= 10 {
		d++
	}
	neg := m < 0
	if neg {
		m = -m
	}
	whole := m / Nano
	str := fmt.Sprintf("%d", whole)
	if d > 0 {
		frac := fmt.Sprintf("%09d", m%Nano)[:d]
		str += "." + frac
	}
	if neg {
		str = "-" + str
	}
	return str
}

// Headline is the statement's first line: "Kafka chargeback for all
// teams, June 2026: 5.95 USD".
func (s *Statement) Headline() string {
	if len(s.Teams) == 0 {
		return fmt.Sprintf("Kafka chargeback for %s, %s: no charges", s.Who(), s.PeriodLabel())
	}
	return fmt.Sprintf("Kafka chargeback for %s, %s: %s %s", s.Who(), s.PeriodLabel(), s.amount(s.Total), s.Currency)
}

// NoCharges says that nothing was charged between from and to (to owner,
// if not ""), and why that may be.
func NoCharges(from, to time.Time, owner string) string {
	if owner != "" {
		return fmt.Sprintf("no charges to %s between %s and %s", owner, stamp(from), stamp(to))
	}
	return fmt.Sprintf("no charges between %s and %s; the agent records charges hourly once cost: is configured", stamp(from), stamp(to))
}

// Text renders the whole statement: the headline, the period and
// currency, the table, and notes on estimates, corrections and rounding.
func (s *Statement) Text() string { return s.render(LevelComponents, 0) }

// render renders the statement with the table down to level, and at most
// maxTeams teams (0: all).
func (s *Statement) render(level StatementLevel, maxTeams int) string {
	var b strings.Builder
	b.WriteString(s.Headline())
	b.WriteByte('\n')
	fmt.Fprintf(&b, "Period:   %s to %s (UTC; the end is not included)\n", stamp(s.From), stamp(s.To))
	decimals := "rounded to the cent"
	if s.Quantum != Cent {
		decimals = "rounded to " + s.amount(s.Quantum)
	}
	fmt.Fprintf(&b, "Currency: %s, amounts %s\n", cmp.Or(s.Currency, "(none)"), decimals)
	if len(s.Teams) == 0 {
		msg := NoCharges(s.From, s.To, s.Owner)
		if len(s.OtherTeams) > 0 {
			msg += "; teams charged: " + strings.Join(s.OtherTeams, ", ")
		}
		fmt.Fprintf(&b, "\n%s.\n", strings.ToUpper(msg[:1])+msg[1:])
		return b.String()
	}

	type line struct{ label, amount string }
	var lines []line // amount "" for a heading; label "" for a blank line
	add := func(indent int, label string, m *Money) {
		l := line{label: strings.Repeat("  ", indent) + label}
		if m != nil {
			l.amount = s.amount(*m)
		}
		lines = append(lines, l)
	}
	teams := s.Teams
	var rest []StatementTeam
	if maxTeams > 0 && len(teams) > maxTeams {
		teams, rest = teams[:maxTeams], teams[maxTeams:]
	}
	for i := range teams {
		t := &teams[i]
		if level == LevelTeams {
			add(0, t.label(), &t.Amount)
			continue
		}
		add(0, t.label(), nil)
		for j := range t.Products {
			p := &t.Products[j]
			name := cmp.Or(poolLabels[p.Product], p.Product)
			if level == LevelProducts {
				add(1, name, &p.Amount)
				continue
			}
			add(1, name, nil)
			for k := range p.Components {
				c := &p.Components[k]
				add(2, c.Component, &c.Amount)
			}
			add(1, "subtotal "+p.Product, &p.Amount)
		}
		add(0, "subtotal "+t.name(), &t.Amount)
		lines = append(lines, line{})
	}
	if len(rest) > 0 {
		var m Money
		for _, t := range rest {
			m += t.Amount
		}
		add(0, fmt.Sprintf("%d more teams", len(rest)), &m)
		lines = append(lines, line{})
	}
	if level == LevelTeams {
		lines = append(lines, line{})
	}
	add(0, "TOTAL", &s.Total)

	header := line{"TEAM / PRODUCT / COMPONENT", s.Currency}
	switch level {
	case LevelTeams:
		header.label = "TEAM"
	case LevelProducts:
		header.label = "TEAM / PRODUCT"
	}
	wl, wa := utf8.RuneCountInString(header.label), utf8.RuneCountInString(header.amount)
	for _, l := range lines {
		wl = max(wl, utf8.RuneCountInString(l.label))
		wa = max(wa, len(l.amount))
	}
	b.WriteByte('\n')
	for _, l := range append([]line{header}, lines...) {
		if l.amount == "" {
			b.WriteString(strings.TrimRight(l.label, " "))
			b.WriteByte('\n')
			continue
		}
		pad := wl - utf8.RuneCountInString(l.label) + 2 + wa - len(l.amount)
		b.WriteString(l.label)
		b.WriteString(strings.Repeat(" ", pad))
		b.WriteString(l.amount)
		b.WriteByte('\n')
	}

	b.WriteByte('\n')
	if s.Estimated != 0 {
		fmt.Fprintf(&b, "Includes %s %s estimated for the open hour, which changes when the hour closes.\n", s.amount(roundTo(s.Estimated, s.Quantum)), s.Currency)
	}
	if s.Corrections > 0 {
		what := "corrections"
		if s.Corrections == 1 {
			what = "correction"
		}
		fmt.Fprintf(&b, "Includes %d %s to closed hours (net %s %s), counted in the hour they correct.\n", s.Corrections, what, s.amount(roundTo(s.CorrectionsExact, s.Quantum)), s.Currency)
	}
	unit := "cent"
	if s.Quantum != Cent {
		unit = s.amount(s.Quantum)
	}
	fmt.Fprintf(&b, "Rounding: each amount is rounded down or up to the %s (never by more than one) so that\n", unit)
	fmt.Fprintf(&b, "components add up to their product's subtotal, products to their team's and teams to the total.\n")
	if s.Owner == "" {
		fmt.Fprintf(&b, "The total is the exact ledger total, %s %s, rounded to the %s.\n", s.ClusterExact.format(2), s.Currency, unit)
	} else {
		fmt.Fprintf(&b, "This team's amounts are those of the statement of all teams (exact: %s %s).\n", s.Exact.format(2), s.Currency)
	}
	if level == LevelComponents {
		seen := map[string]Money{}
		for _, t := range teams {
			for _, p := range t.Products {
				for _, c := range p.Components {
					seen[c.Component] = 0
				}
			}
		}
		b.WriteString("Components:\n")
		for _, c := range componentOrder(seen) {
			fmt.Fprintf(&b, "  %-11s %s\n", c, cmp.Or(componentLegend[c], "(a component of a newer version)"))
		}
	} else {
		fmt.Fprintf(&b, "Shortened to fit one message: -format summary prints every product and component.\n")
	}
	return b.String()
}

// TextWithin renders the statement in at most maxBytes: the whole table if
// it fits, else down to products, else teams, else as many teams as fit.
func (s *Statement) TextWithin(maxBytes int) string {
	for _, level := range []StatementLevel{LevelComponents, LevelProducts, LevelTeams} {
		if t := s.render(level, 0); len(t) <= maxBytes {
			return t
		}
	}
	lo, hi := 1, len(s.Teams)
	best := s.render(LevelTeams, 1)
	for lo <= hi {
		mid := (lo + hi) / 2
		if t := s.render(LevelTeams, mid); len(t) <= maxBytes {
			best, lo = t, mid+1
		} else {
			hi = mid - 1
		}
	}
	return best
}
