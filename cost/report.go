package cost

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report formats.
const (
	FormatCSV     = "csv"
	FormatFOCUS   = "focus"
	FormatJSON    = "json"
	FormatSummary = "summary"
)

// Formats lists the report formats.
var Formats = []string{FormatSummary, FormatCSV, FormatFOCUS, FormatJSON}

// ErrFormat is returned for a report format other than summary, csv, focus
// or json.
var ErrFormat = errors.New("cost: unknown report format (want summary, csv, focus or json)")

// Report writes the chargeback rows of [from, to) from the ledger in store
// to w, as summary, csv, focus (FOCUS 1.3 CSV) or json. It reads the store
// only, so it works on the state directory of an agent that is not
// running; the open hour is included as an estimate (x_IsEstimate). An
// unreadable hour is left out and reported in the returned error after the
// rest was written.
func Report(ctx context.Context, store Store, from, to time.Time, format string, w io.Writer) error {
	_, err := WriteReport(ctx, store, ReportOptions{From: from, To: to, Format: format}, w)
	return err
}

// ReportOptions says what WriteReport writes.
type ReportOptions struct {
	// From and To bound the period [From, To), in whole hours.
	From, To time.Time
	// Format is summary, csv, focus or json.
	Format string
	// Owner, if not "", keeps the charges to that team only. Its summary
	// has the amounts of the summary of every team, so that both agree.
	Owner string
	// Currency is the currency a report without charges names (the
	// config's cost.currency); charges carry their own.
	Currency string
	// Quantum is what the summary rounds amounts to; 0 is Cent.
	Quantum Money
}

// ReportResult tells what a report held.
type ReportResult struct {
	// Charges is the number of ledger rows written or summed.
	Charges int
	// Total is their exact sum, in Currency.
	Total    Money
	Currency string
}

// WriteReport writes the report o asks for from the ledger in store to w,
// and says how many charges it held: with none, a summary says so in its
// text, and the other formats write their empty form (a CSV header, an
// empty rows list). An unreadable hour is left out and reported in the
// returned error after the rest was written.
func WriteReport(ctx context.Context, store Store, o ReportOptions, w io.Writer) (ReportResult, error) {
	if !slices.Contains(Formats, o.Format) {
		return ReportResult{}, fmt.Errorf("%w: %q", ErrFormat, o.Format)
	}
	rows, rowsErr := NewLedger(store).Rows(ctx, o.From, o.To)
	if errors.Is(rowsErr, ErrRange) || errors.Is(rowsErr, context.Canceled) || errors.Is(rowsErr, context.DeadlineExceeded) {
		return ReportResult{}, rowsErr
	}
	res := ReportResult{Currency: o.Currency}
	if o.Format == FormatSummary {
		st, err := NewStatement(rows, o.From, o.To, o.Currency, o.Quantum)
		if err != nil {
			return res, err
		}
		if o.Owner != "" {
			st = st.forOwnerRows(o.Owner, rows)
		}
		res.Charges, res.Total, res.Currency = st.Charges, st.Exact, st.Currency
		if _, err := io.WriteString(w, st.Text()); err != nil {
			return res, err
		}
		return res, rowsErr
	}
	if o.Owner != "" {
		mine := rows[:0:0]
		for _, r := range rows {
			if r.Owner == o.Owner {
				mine = append(mine, r)
			}
		}
		rows = mine
	}
	res.Charges, res.Total = len(rows), Total(rows)
	if len(rows) > 0 {
		res.Currency = rows[0].Currency
	}
	if err := WriteRows(w, o.Format, o.From, o.To, rows); err != nil {
		return res, err
	}
	return res, rowsErr
}

// WriteRows writes rows of [from, to) in format (csv, focus or json; a
// summary is a Statement's Text).
func WriteRows(w io.Writer, format string, from, to time.Time, rows []Row) error {
	switch format {
	case FormatCSV:
		return WriteCSV(w, from, to, rows)
	case FormatFOCUS:
		return WriteFOCUS(w, rows)
	case FormatJSON:
		return WriteJSON(w, from, to, rows)
	case FormatSummary:
		st, err := NewStatement(rows, from, to, "", Cent)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, st.Text())
		return err
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

// CSV row types, the row_type column: a charge of the ledger, a team's
// subtotal, the grand total.
const (
	RowCharge   = "charge"
	RowSubtotal = "subtotal"
	RowTotal    = "total"
)

// CSVColumns are the columns of the plain CSV report.
var CSVColumns = []string{
	"row_type", "hour_start", "hour_end", "product", "domain", "owner", "cost_center", "component",
	"topic", "consumer_group", "pool", "method", "quantity", "unit", "unit_price",
	"list_cost", "cost", "currency", "class", "estimate", "recorded",
}

// WriteCSV writes rows as the plain CSV report: one line per row
// (row_type charge), amounts as exact decimals in the billing currency,
// quantities in the pricing unit; then a subtotal line per team (owner and
// cost center) and a total line per currency (row_type subtotal, total),
// exact sums of the charges, with the period [from, to) as hour_start and
// hour_end and estimate true when an estimated charge is in the sum. Sum
// the cost column over the charge lines only.
func WriteCSV(w io.Writer, from, to time.Time, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		q, unit := pricingQuantity(r)
		if err := cw.Write([]string{
			RowCharge, stamp(r.Hour), stamp(r.Hour.Add(time.Hour)), r.Product, r.Domain, r.Owner, r.CostCenter, r.Component,
			r.Topic, r.Group, r.Pool, r.Method, q, unit, r.UnitPrice.format(0),
			r.ListCost.format(0), r.Cost.format(0), r.Currency, r.Class, strconv.FormatBool(r.Estimate), stamp(r.Recorded),
		}); err != nil {
			return err
		}
	}
	type total struct {
		list, cost Money
		estimate   bool
	}
	totals := map[string]*total{}
	var currencies []string
	for _, t := range buildTeams(rows) {
		if err := cw.Write([]string{
			RowSubtotal, stamp(from), stamp(to), "", "", t.Owner, t.CostCenter, "",
			"", "", "", "", "", "", "",
			t.List.format(0), t.Exact.format(0), t.Currency, "", strconv.FormatBool(t.Estimate), "",
		}); err != nil {
			return err
		}
		c := totals[t.Currency]
		if c == nil {
			c = &total{}
			totals[t.Currency] = c
			currencies = append(currencies, t.Currency)
		}
		c.list += t.List
		c.cost += t.Exact
		c.estimate = c.estimate || t.Estimate
	}
	slices.Sort(currencies)
	for _, cur := range currencies {
		c := totals[cur]
		if err := cw.Write([]string{
			RowTotal, stamp(from), stamp(to), "", "", "", "", "",
			"", "", "", "", "", "", "",
			c.list.format(0), c.cost.format(0), cur, "", strconv.FormatBool(c.estimate), "",
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// pricingQuantity returns the row's quantity in its pricing unit, as a
// decimal, and the unit in FOCUS UnitFormat.
func pricingQuantity(r *Row) (string, string) {
	switch r.Component {
	case ComponentStorage:
		return ratio(r.Quantity, gib), "GiB-Hours"
	case ComponentPartitions:
		return ratio(r.Quantity, secondsPerHr), "Partition-Hours"
	case ComponentIngress, ComponentEgress, ComponentCrossAZ:
		return ratio(r.Quantity, gib), "GiB"
	case ComponentCluster:
		return ratio(r.Quantity, secondsPerHr), "Hours"
	}
	return strconv.FormatInt(r.Quantity, 10), "Units"
}

// ratio formats q/div exactly as a plain decimal (no exponent), rounded
// to 12 places at most (half away from zero), trailing zeros trimmed.
func ratio(q, div int64) string {
	s := new(big.Rat).SetFrac64(q, div).FloatString(12)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// jsonReport is the JSON report: amounts and quantities as decimal
// numbers.
type jsonReport struct {
	From     string     `json:"from"`
	To       string     `json:"to"`
	Currency string     `json:"currency,omitempty"`
	Total    jsonMoney  `json:"total"`
	Teams    []jsonTeam `json:"teams"`
	Rows     []jsonRow  `json:"rows"`
}

type jsonMoney Money

func (m jsonMoney) MarshalJSON() ([]byte, error) { return []byte(Money(m).format(0)), nil }

// jsonTeam is a team's subtotal, with its products' and their components'.
type jsonTeam struct {
	Owner      string        `json:"owner"`
	CostCenter string        `json:"cost_center,omitempty"`
	Currency   string        `json:"currency"`
	ListCost   jsonMoney     `json:"list_cost"`
	Cost       jsonMoney     `json:"cost"`
	Estimate   bool          `json:"estimate"`
	Products   []jsonProduct `json:"products"`
}

type jsonProduct struct {
	Product    string          `json:"product"`
	Cost       jsonMoney       `json:"cost"`
	Components []jsonComponent `json:"components"`
}

type jsonComponent struct {
	Component string    `json:"component"`
	Cost      jsonMoney `json:"cost"`
}

type jsonRow struct {
	HourStart  string      `json:"hour_start"`
	HourEnd    string      `json:"hour_end"`
	Product    string      `json:"product"`
	Domain     string      `json:"domain,omitempty"`
	Owner      string      `json:"owner"`
	CostCenter string      `json:"cost_center,omitempty"`
	Component  string      `json:"component"`
	Topic      string      `json:"topic,omitempty"`
	Group      string      `json:"consumer_group,omitempty"`
	Pool       string      `json:"pool,omitempty"`
	Method     string      `json:"method"`
	Quantity   json.Number `json:"quantity"`
	Unit       string      `json:"unit"`
	ListCost   jsonMoney   `json:"list_cost"`
	Cost       jsonMoney   `json:"cost"`
	Class      string      `json:"class,omitempty"`
	Estimate   bool        `json:"estimate"`
}

// WriteJSON writes rows as one JSON object {from, to, currency, total,
// teams, rows}: teams are the exact subtotals per team (owner and cost
// center), product and component, rows the charges; amounts and
// quantities are decimal numbers (exact amounts to 9 decimals, quantities
// to 12), for Grafana's JSON data sources and scripts. Read them as
// decimals (Python: json.loads(s, parse_float=Decimal)) to keep every digit.
func WriteJSON(w io.Writer, from, to time.Time, rows []Row) error {
	rep := jsonReport{From: stamp(from), To: stamp(to), Total: jsonMoney(Total(rows)), Teams: []jsonTeam{}, Rows: make([]jsonRow, len(rows))}
	for _, t := range buildTeams(rows) {
		jt := jsonTeam{Owner: t.Owner, CostCenter: t.CostCenter, Currency: t.Currency, ListCost: jsonMoney(t.List),
			Cost: jsonMoney(t.Exact), Estimate: t.Estimate, Products: make([]jsonProduct, len(t.Products))}
		for i, p := range t.Products {
			jp := jsonProduct{Product: p.Product, Cost: jsonMoney(p.Exact), Components: make([]jsonComponent, len(p.Components))}
			for j, c := range p.Components {
				jp.Components[j] = jsonComponent{Component: c.Component, Cost: jsonMoney(c.Exact)}
			}
			jt.Products[i] = jp
		}
		rep.Teams = append(rep.Teams, jt)
	}
	for i := range rows {
		r := &rows[i]
		if rep.Currency == "" {
			rep.Currency = r.Currency
		}
		q, unit := pricingQuantity(r)
		rep.Rows[i] = jsonRow{
			HourStart: stamp(r.Hour), HourEnd: stamp(r.Hour.Add(time.Hour)), Product: r.Product, Domain: r.Domain,
			Owner: r.Owner, CostCenter: r.CostCenter, Component: r.Component, Topic: r.Topic, Group: r.Group,
			Pool: r.Pool, Method: r.Method, Quantity: json.Number(q), Unit: unit, ListCost: jsonMoney(r.ListCost),
			Cost: jsonMoney(r.Cost), Class: r.Class, Estimate: r.Estimate,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}
