package cost

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Report formats.
const (
	FormatCSV   = "csv"
	FormatFOCUS = "focus"
	FormatJSON  = "json"
)

// ErrFormat is returned for a report format other than csv, focus or json.
var ErrFormat = errors.New("cost: unknown report format (want csv, focus or json)")

// Report writes the chargeback rows of [from, to) from the ledger in store
// to w, as csv, focus (FOCUS 1.3 CSV) or json. It reads the store only, so
// it works on the state directory of an agent that is not running; the
// open hour is included as an estimate (x_IsEstimate). An unreadable hour
// is left out and reported in the returned error after the rest was
// written.
func Report(ctx context.Context, store Store, from, to time.Time, format string, w io.Writer) error {
	switch format {
	case FormatCSV, FormatFOCUS, FormatJSON:
	default:
		return fmt.Errorf("%w: %q", ErrFormat, format)
	}
	rows, rowsErr := NewLedger(store).Rows(ctx, from, to)
	if errors.Is(rowsErr, ErrRange) || errors.Is(rowsErr, context.Canceled) || errors.Is(rowsErr, context.DeadlineExceeded) {
		return rowsErr
	}
	if err := WriteRows(w, format, from, to, rows); err != nil {
		return err
	}
	return rowsErr
}

// WriteRows writes rows in format.
func WriteRows(w io.Writer, format string, from, to time.Time, rows []Row) error {
	switch format {
	case FormatCSV:
		return WriteCSV(w, rows)
	case FormatFOCUS:
		return WriteFOCUS(w, rows)
	case FormatJSON:
		return WriteJSON(w, from, to, rows)
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

// CSVColumns are the columns of the plain CSV report.
var CSVColumns = []string{
	"hour_start", "hour_end", "product", "domain", "owner", "cost_center", "component",
	"topic", "consumer_group", "pool", "method", "quantity", "unit", "unit_price",
	"list_cost", "cost", "currency", "class", "estimate", "recorded",
}

// WriteCSV writes rows as the plain CSV report: one line per row, amounts
// as decimals in the billing currency, quantities in the pricing unit.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for i := range rows {
		r := &rows[i]
		q, unit := pricingQuantity(r)
		if err := cw.Write([]string{
			stamp(r.Hour), stamp(r.Hour.Add(time.Hour)), r.Product, r.Domain, r.Owner, r.CostCenter, r.Component,
			r.Topic, r.Group, r.Pool, r.Method, q, unit, r.UnitPrice.format(0),
			r.ListCost.format(0), r.Cost.format(0), r.Currency, r.Class, strconv.FormatBool(r.Estimate), stamp(r.Recorded),
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

// ratio formats q/div as a plain decimal (no exponent), to 12 places at
// most.
func ratio(q, div int64) string {
	s := strconv.FormatFloat(float64(q)/float64(div), 'f', 12, 64)
	// Trim trailing zeros and a bare point: "1.500000000000" → "1.5".
	i := len(s)
	for i > 0 && s[i-1] == '0' {
		i--
	}
	if i > 0 && s[i-1] == '.' {
		i--
	}
	if s[:i] == "-0" {
		return "0"
	}
	return s[:i]
}

// jsonReport is the JSON report: amounts as decimal numbers.
type jsonReport struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Currency string    `json:"currency,omitempty"`
	Total    jsonMoney `json:"total"`
	Rows     []jsonRow `json:"rows"`
}

type jsonMoney Money

func (m jsonMoney) MarshalJSON() ([]byte, error) { return []byte(Money(m).format(0)), nil }

type jsonRow struct {
	HourStart  string    `json:"hour_start"`
	HourEnd    string    `json:"hour_end"`
	Product    string    `json:"product"`
	Domain     string    `json:"domain,omitempty"`
	Owner      string    `json:"owner"`
	CostCenter string    `json:"cost_center,omitempty"`
	Component  string    `json:"component"`
	Topic      string    `json:"topic,omitempty"`
	Group      string    `json:"consumer_group,omitempty"`
	Pool       string    `json:"pool,omitempty"`
	Method     string    `json:"method"`
	Quantity   string    `json:"quantity"`
	Unit       string    `json:"unit"`
	ListCost   jsonMoney `json:"list_cost"`
	Cost       jsonMoney `json:"cost"`
	Class      string    `json:"class,omitempty"`
	Estimate   bool      `json:"estimate"`
}

// WriteJSON writes rows as one JSON object {from, to, currency, total,
// rows}, amounts as decimal numbers, for Grafana's JSON data sources.
func WriteJSON(w io.Writer, from, to time.Time, rows []Row) error {
	rep := jsonReport{From: stamp(from), To: stamp(to), Total: jsonMoney(Total(rows)), Rows: make([]jsonRow, len(rows))}
	for i := range rows {
		r := &rows[i]
		if rep.Currency == "" {
			rep.Currency = r.Currency
		}
		q, unit := pricingQuantity(r)
		rep.Rows[i] = jsonRow{
			HourStart: stamp(r.Hour), HourEnd: stamp(r.Hour.Add(time.Hour)), Product: r.Product, Domain: r.Domain,
			Owner: r.Owner, CostCenter: r.CostCenter, Component: r.Component, Topic: r.Topic, Group: r.Group,
			Pool: r.Pool, Method: r.Method, Quantity: q, Unit: unit, ListCost: jsonMoney(r.ListCost),
			Cost: jsonMoney(r.Cost), Class: r.Class, Estimate: r.Estimate,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
