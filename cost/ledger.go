package cost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/internal/state"
)

// Store is the key-value state the ledger lives in (the agent's state
// directory or state topic); internal/state's stores implement it.
// Implementations must make each Put atomic. Get reports a value the store
// found damaged with an error wrapping state.ErrCorrupt, after setting it
// aside. SetAside moves a value the meter cannot decode out of the way,
// keeping it for inspection, and logs one line with the reason.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	SetAside(ctx context.Context, key, reason string) error
}

// Keys of the ledger in the store.
const (
	keyPrefix  = "cost/"
	keyOpen    = keyPrefix + "open"      // the open hour's estimate
	keyMeter   = keyPrefix + "meter"     // the meter's last sample, to resume after a restart
	hourLayout = "2006-01-02T15"         // cost/ledger/2026-05-01T13
	keyLedger  = keyPrefix + "ledger/"   // + hourLayout: one HourRecord
	keyClosed  = keyPrefix + "closed/"   // + "2006-01" or "2006-01-02": a close that ran
	keyBudget  = keyPrefix + "budgets/"  // + "2006-01": thresholds already alerted
	keyReports = keyPrefix + "reported/" // + day or month: reports written
)

// maxReportHours bounds the hours one Report reads (a little over a year).
const maxReportHours = 400 * 24

// ErrRange is returned for a report range that is empty or too long.
var ErrRange = errors.New("cost: bad report range")

// HourRecord is one hour of the ledger as stored: the usage it was priced
// from and its entries, the close first and corrections after it. The
// rows of an hour are the sum of its entries.
type HourRecord struct {
	Hour     time.Time `json:"hour"`
	Currency string    `json:"currency"`
	Usage    Usage     `json:"usage"`
	Entries  []Entry   `json:"entries"`
}

// Entry is one write to an hour: its close, or a correction.
type Entry struct {
	Recorded time.Time `json:"recorded"`
	Class    string    `json:"class,omitempty"` // "" or Correction
	Rows     []Row     `json:"rows"`
}

// Rows returns every row of every entry, corrections included.
func (h *HourRecord) Rows() []Row {
	var out []Row
	for _, e := range h.Entries {
		out = append(out, e.Rows...)
	}
	return out
}

// net returns the sum of the entries by row key.
func (h *HourRecord) net() map[rowKey]*Row {
	m := map[rowKey]*Row{}
	for _, e := range h.Entries {
		for _, r := range e.Rows {
			k := r.key()
			if n, ok := m[k]; ok {
				n.Quantity += r.Quantity
				n.ListCost += r.ListCost
				n.Cost += r.Cost
				continue
			}
			c := r
			m[k] = &c
		}
	}
	return m
}

// Ledger is the hourly ledger in a Store. It is safe for concurrent use as
// far as the Store is; the Meter is its only writer. A ledger from
// NewLedger only reads what it finds: a corrupt hour or open estimate is
// an error. The Meter's ledger (Meter.Ledger) sets a corrupt value aside,
// logs and counts it, and goes on without it, so that one damaged hour
// does not stop the closes.
type Ledger struct {
	store Store
	// corrupt, set by the Meter, handles a corrupt value; nil makes it an
	// error. See Meter.setAside.
	corrupt func(ctx context.Context, key, what, effect string, decodeErr error) error
}

// NewLedger returns the ledger kept in store.
func NewLedger(store Store) *Ledger { return &Ledger{store: store} }

// get reads the JSON value of key into v and reports whether there was
// one. what names the value in errors ("ledger hour 2026-05-01T13"),
// effect says what going on without it means. A corrupt value — one the
// store found damaged and set aside (state.ErrCorrupt), or one that does
// not decode — is an error, unless l.corrupt handles it: then it reads as
// missing. Any other error of the store is returned.
func (l *Ledger) get(ctx context.Context, key string, v any, what, effect string) (bool, error) {
	b, ok, err := l.store.Get(ctx, key)
	switch {
	case errors.Is(err, state.ErrCorrupt):
		if l.corrupt == nil {
			return false, fmt.Errorf("cost: %s is unreadable: %w", what, err)
		}
		return false, l.corrupt(ctx, key, what, effect, nil)
	case err != nil:
		return false, fmt.Errorf("cost: read %s: %w", what, err)
	case !ok:
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		if l.corrupt == nil {
			return false, fmt.Errorf("cost: %s is unreadable: %w", what, err)
		}
		return false, l.corrupt(ctx, key, what, effect, err)
	}
	return true, nil
}

func hourKey(hour time.Time) string { return keyLedger + hour.UTC().Format(hourLayout) }

// Hour returns the record of the hour starting at hour, and false if the
// hour was never closed.
func (l *Ledger) Hour(ctx context.Context, hour time.Time) (*HourRecord, bool, error) {
	var h HourRecord
	ok, err := l.get(ctx, hourKey(hour), &h, "ledger hour "+hour.UTC().Format(hourLayout),
		"the hour is missing from the ledger and the reports until it is closed again (in invoice mode the month close bills it as __idle__)")
	if err != nil || !ok {
		return nil, false, err
	}
	return &h, true, nil
}

// Close writes the rows of the hour priced from usage. The first close of
// an hour writes its rows; a later one (late usage, a rate-card fix)
// appends correction rows — the difference between rows and what the
// ledger holds, with Class Correction — and never rewrites what was
// written. Closing again with the same rows writes nothing. It returns the
// rows written.
func (l *Ledger) Close(ctx context.Context, usage Usage, rows []Row, currency string, now time.Time) ([]Row, error) {
	hour := usage.Hour.UTC().Truncate(time.Hour)
	h, ok, err := l.Hour(ctx, hour)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	var written []Row
	if !ok {
		h = &HourRecord{Hour: hour, Currency: currency, Usage: usage}
		written = make([]Row, len(rows))
		for i, r := range rows {
			r.Estimate, r.Class, r.Recorded = false, "", now
			written[i] = r
		}
		h.Entries = []Entry{{Recorded: now, Rows: written}}
	} else {
		written = diff(h.net(), rows, now)
		if len(written) == 0 {
			return nil, nil
		}
		h.Usage = usage
		h.Entries = append(h.Entries, Entry{Recorded: now, Class: ClassCorrection, Rows: written})
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("cost: encode ledger hour: %w", err)
	}
	if err := l.store.Put(ctx, hourKey(hour), b); err != nil {
		return nil, fmt.Errorf("cost: write ledger hour %s: %w", hour.Format(hourLayout), err)
	}
	return written, nil
}

// diff returns the correction rows that take have to want.
func diff(have map[rowKey]*Row, want []Row, now time.Time) []Row {
	var out []Row
	seen := map[rowKey]bool{}
	for _, w := range want {
		k := w.key()
		seen[k] = true
		c := w
		if h, ok := have[k]; ok {
			c.Quantity -= h.Quantity
			c.ListCost -= h.ListCost
			c.Cost -= h.Cost
			c.Ratio = 0
		}
		if c.Quantity != 0 || c.ListCost != 0 || c.Cost != 0 {
			c.Class, c.Estimate, c.Recorded = ClassCorrection, false, now
			out = append(out, c)
		}
	}
	for k, h := range have {
		if seen[k] || (h.Quantity == 0 && h.ListCost == 0 && h.Cost == 0) {
			continue
		}
		c := *h
		c.Quantity, c.ListCost, c.Cost, c.Ratio = -h.Quantity, -h.ListCost, -h.Cost, 0
		c.Class, c.Estimate, c.Recorded = ClassCorrection, false, now
		out = append(out, c)
	}
	SortRows(out)
	return out
}

// openRecord is the open hour's estimate as stored.
type openRecord struct {
	Hour     time.Time `json:"hour"`
	Currency string    `json:"currency"`
	Rows     []Row     `json:"rows"`
}

// PutOpen stores the estimate of the open hour, replacing the last one.
func (l *Ledger) PutOpen(ctx context.Context, hour time.Time, rows []Row, currency string) error {
	rec := openRecord{Hour: hour.UTC(), Currency: currency, Rows: make([]Row, len(rows))}
	for i, r := range rows {
		r.Estimate = true
		rec.Rows[i] = r
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("cost: encode open hour: %w", err)
	}
	if err := l.store.Put(ctx, keyOpen, b); err != nil {
		return fmt.Errorf("cost: write open hour: %w", err)
	}
	return nil
}

// Open returns the stored estimate of the open hour, if any.
func (l *Ledger) Open(ctx context.Context) (time.Time, []Row, error) {
	var rec openRecord
	ok, err := l.get(ctx, keyOpen, &rec, "open hour's estimate",
		"the open hour is missing from reports until the next sample writes its estimate")
	if err != nil || !ok {
		return time.Time{}, nil, err
	}
	return rec.Hour, rec.Rows, nil
}

// Rows returns the rows charged in [from, to), whole hours: every entry of
// every closed hour, and the open hour's estimate when it is in the range
// and not closed yet. Corrections are returned with the hour they correct
// (their Recorded time tells when they were made). Rows come in report
// order.
func (l *Ledger) Rows(ctx context.Context, from, to time.Time) ([]Row, error) {
	from = from.UTC().Truncate(time.Hour)
	if t := to.UTC().Truncate(time.Hour); t.Before(to) {
		to = t.Add(time.Hour)
	} else {
		to = t
	}
	if !from.Before(to) || to.Sub(from) > maxReportHours*time.Hour {
		return nil, fmt.Errorf("%w: from %s to %s (at most %d days)", ErrRange, from.Format(time.RFC3339), to.Format(time.RFC3339), maxReportHours/24)
	}
	var rows []Row
	var bad []error
	closed := map[time.Time]bool{}
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, ok, err := l.Hour(ctx, h)
		if err != nil {
			// One unreadable hour must not hide the others; it is
			// reported with the rows.
			bad = append(bad, err)
			continue
		}
		if ok {
			closed[h] = true
			rows = append(rows, rec.Rows()...)
		}
	}
	openHour, open, err := l.Open(ctx)
	if err != nil {
		bad = append(bad, err)
	} else if len(open) > 0 && !openHour.Before(from) && openHour.Before(to) && !closed[openHour] {
		rows = append(rows, open...)
	}
	SortRows(rows)
	return rows, errors.Join(bad...)
}
