package cost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meshwatch/meshwatch/internal/state"
)

// BudgetThresholds are the shares of a monthly budget, in percent, at which
// an alert fires.
var BudgetThresholds = []int{50, 75, 90, 100}

// BudgetAlert says that a budget crossed a threshold this month, or that
// its month-end forecast exceeds it.
type BudgetAlert struct {
	// Budget is "product:<name>" or "cost_center:<name>".
	Budget     string `json:"budget"`
	Product    string `json:"product,omitempty"`
	CostCenter string `json:"cost_center,omitempty"`
	// Owner is the team to tell: the product's owner, or the team mapped to
	// the cost center in cost.cost_centers ("" if none).
	Owner string    `json:"owner,omitempty"`
	Month time.Time `json:"month"`
	// Threshold is the percentage crossed (50, 75, 90, 100); 0 with
	// Forecast.
	Threshold int  `json:"threshold"`
	Forecast  bool `json:"forecast"`
	// Spent is month-to-date (closed hours and the open estimate),
	// Forecasted the month-end projection at the month's pace so far.
	Spent      Money     `json:"spent"`
	Forecasted Money     `json:"forecasted"`
	Limit      Money     `json:"limit"`
	Currency   string    `json:"currency"`
	At         time.Time `json:"at"`
}

// String is a one-line description for logs and messages.
func (a BudgetAlert) String() string {
	if a.Forecast {
		return fmt.Sprintf("%s: forecast %s %s exceeds the monthly budget %s (spent %s)", a.Budget, a.Forecasted, a.Currency, a.Limit, a.Spent)
	}
	return fmt.Sprintf("%s: %d%% of the monthly budget %s %s spent (%s; forecast %s)", a.Budget, a.Threshold, a.Limit, a.Currency, a.Spent, a.Forecasted)
}

// BudgetAlerts returns the budget alerts that fired this month, oldest
// first. It is safe for concurrent use.
func (m *Meter) BudgetAlerts() []BudgetAlert {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.alerts)
}

// BudgetsChecked reports whether BudgetAlerts is known for the current
// month: the meter has read this month's budget state since it started.
// Until then an empty BudgetAlerts means nothing. Safe for concurrent use.
func (m *Meter) BudgetsChecked() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.mtdOf.IsZero() && m.mtdOf.Equal(monthStart(m.now()))
}

// forecastAfter is how much of a month must have passed before a forecast
// can fire: a projection from the first hours is noise.
const forecastAfter = 24 * time.Hour

// refreshMTDLocked reloads the month-to-date of closed hours from the
// ledger when the month changed, or when force, and reports whether it did.
func (m *Meter) refreshMTDLocked(ctx context.Context, force bool) bool {
	month := monthStart(m.now())
	if !force && month.Equal(m.mtdOf) {
		return false
	}
	if !month.Equal(m.mtdOf) {
		m.alerts, m.fired = nil, map[string]map[int]bool{}
		if err := m.loadFiredLocked(ctx, month); err != nil {
			// Going on would alert every threshold again and overwrite
			// the state: nothing fires until it is read (the next check).
			m.logError(stepState, err)
			return false
		}
	}
	rows, err := m.ledger.Rows(ctx, month, m.now().Add(time.Hour))
	if err != nil && len(rows) == 0 {
		return false
	}
	mtd := map[mtdKey]Money{}
	for _, r := range rows {
		if !r.Estimate {
			mtd[mtdKey{r.Product, r.Domain, r.Owner, r.CostCenter, r.Component}] += r.Cost
		}
	}
	m.mtd, m.mtdOf = mtd, month
	return true
}

func (m *Meter) setEstimateLocked(rows []Row, seconds int64) {
	est := map[mtdKey]Money{}
	for _, r := range rows {
		est[mtdKey{r.Product, r.Domain, r.Owner, r.CostCenter, r.Component}] += r.Cost
	}
	m.est, m.estSecs = est, seconds
}

type firedState struct {
	Fired  map[string][]int `json:"fired"`
	Alerts []BudgetAlert    `json:"alerts"`
}

// loadFiredLocked reads the thresholds that fired in month. A corrupt
// state is set aside (they may fire again); an error of the store is
// returned.
func (m *Meter) loadFiredLocked(ctx context.Context, month time.Time) error {
	var st firedState
	ok, err := m.ledger.get(ctx, keyBudget+month.Format("2006-01"), &st, "budget state of "+month.Format("2006-01"),
		"the budget thresholds already crossed this month alert again")
	if err != nil || !ok {
		return err
	}
	for name, ts := range st.Fired {
		m.fired[name] = map[int]bool{}
		for _, t := range ts {
			m.fired[name][t] = true
		}
	}
	m.alerts = st.Alerts
	return nil
}

func (m *Meter) saveFiredLocked(ctx context.Context, month time.Time) error {
	st := firedState{Fired: map[string][]int{}, Alerts: m.alerts}
	for name, ts := range m.fired {
		for t := range ts {
			st.Fired[name] = append(st.Fired[name], t)
		}
		slices.Sort(st.Fired[name])
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.opts.Store.Put(ctx, keyBudget+month.Format("2006-01"), b)
}

// spend returns month-to-date (closed and estimated) by predicate.
func (m *Meter) spendLocked(match func(mtdKey) bool) Money {
	var s Money
	for k, v := range m.mtd {
		if match(k) {
			s += v
		}
	}
	for k, v := range m.est {
		if match(k) {
			s += v
		}
	}
	return s
}

// forecast projects spent at the month's pace so far to the month's end.
func forecast(spent Money, now time.Time) Money {
	month := monthStart(now)
	elapsed := now.Sub(month)
	total := month.AddDate(0, 1, 0).Sub(month)
	if elapsed <= 0 {
		return spent
	}
	return mulDiv(int64(total/time.Second), spent, int64(elapsed/time.Second))
}

// checkBudgetsLocked fires the thresholds each budget crossed and updates
// the month-to-date and forecast gauges.
func (m *Meter) checkBudgetsLocked(ctx context.Context, now time.Time) {
	m.refreshMTDLocked(ctx, false)
	month := monthStart(now)
	m.metrics.setMonth(m, now)
	// Until this month's fired thresholds and month-to-date have been read
	// (refreshMTDLocked failed), nothing fires: the sums may be last
	// month's, and thresholds that fired would fire again.
	canFire := m.mtdOf.Equal(month)
	changed := false
	for _, b := range m.cc.Budgets {
		match := func(k mtdKey) bool { return k.product == b.Product }
		if b.Product == "" {
			match = func(k mtdKey) bool { return k.costCenter == b.CostCenter }
		}
		spent := m.spendLocked(match)
		fc := forecast(spent, now)
		if spent < 0 {
			spent = 0
		}
		m.metrics.budget(b, spent, fc)
		name := b.Name()
		if m.fired[name] == nil {
			m.fired[name] = map[int]bool{}
		}
		owner := m.budgetOwner(b)
		fire := func(threshold int, isForecast bool) {
			a := BudgetAlert{Budget: name, Product: b.Product, CostCenter: b.CostCenter, Owner: owner, Month: month,
				Threshold: threshold, Forecast: isForecast, Spent: spent, Forecasted: fc, Limit: b.Monthly,
				Currency: m.cc.Currency, At: now}
			m.fired[name][threshold] = true
			m.alerts = append(m.alerts, a)
			changed = true
			m.metrics.budgetAlerts.WithLabelValues(name).Inc()
			m.log.Info("budget threshold crossed", "budget", name, "threshold", threshold, "forecast", isForecast)
			if m.opts.Budget != nil {
				m.opts.Budget(a)
			}
		}
		if !canFire {
			continue
		}
		for _, t := range BudgetThresholds {
			if !m.fired[name][t] && mulDiv(int64(t), b.Monthly, 100) <= spent {
				fire(t, false)
			}
		}
		if !m.fired[name][0] && now.Sub(month) >= forecastAfter && fc > b.Monthly {
			fire(0, true)
		}
	}
	if changed {
		if err := m.saveFiredLocked(ctx, month); err != nil {
			m.log.Warn("cannot save budget state", "err", err)
		}
	}
}

func (m *Meter) budgetOwner(b Budget) string {
	if b.Product != "" {
		for _, p := range m.cfg.Products {
			if p.Name == b.Product {
				return p.Owner
			}
		}
		return ""
	}
	for _, team := range slices.Sorted(maps.Keys(m.cc.CostCenters)) {
		if m.cc.CostCenters[team] == b.CostCenter {
			return team
		}
	}
	return ""
}

// Summary is a chargeback summary for one team (or for finance) over a
// closed day or month, for a Slack message.
type Summary struct {
	Period string // "day" or "month"
	From   time.Time
	To     time.Time
	// Owner is the team the summary is for; "" with Finance.
	Owner string
	// Finance marks the summary of everything, for the finance channel
	// (reports.finance names that team).
	Finance     bool
	FinanceTeam string
	Currency    string
	// Total is the exact sum of the summary's charges.
	Total Money
	Lines []SummaryLine // by cost, largest first
	// Files are the report files written for the period, if any.
	Files []string
	// Statement is the table the message shows: the team's part of the
	// period's statement, or all of it for finance. Without one, Text
	// lists Lines.
	Statement *Statement
}

// SummaryLine is one product's cost in a summary.
type SummaryLine struct {
	Product string
	Cost    Money
}

// maxSummaryText bounds a summary's text below what an announcement may
// hold (32 KiB), with room for Slack's escaping: a larger statement is
// shortened to products, then to teams.
const maxSummaryText = 28 << 10

// Command returns the command that prints the summary's table again:
// `meshwatch report chargeback -month 2026-06 -format summary`, with
// -owner for a team's.
func (s Summary) Command() string {
	period := "-from " + s.From.UTC().Format(time.DateOnly) + " -to " + s.To.UTC().Format(time.DateOnly)
	if s.Period == "month" {
		period = "-month " + s.From.UTC().Format("2006-01")
	}
	owner := ""
	if !s.Finance && s.Owner != "" {
		owner = " -owner " + s.Owner
	}
	return "meshwatch report chargeback " + period + " -format summary" + owner
}

// Text renders the summary for Slack: the statement's headline, its table
// in a code block (Statement.TextWithin, the text of `meshwatch report
// chargeback -format summary`), and the command that prints it again.
// Without a Statement it is the headline and a line per product.
func (s Summary) Text() string {
	var b strings.Builder
	if s.Statement != nil {
		text := s.Statement.TextWithin(maxSummaryText)
		headline, rest, _ := strings.Cut(text, "\n")
		b.WriteString(headline)
		b.WriteString("\n```\n")
		b.WriteString(rest)
		b.WriteString("```\n")
		fmt.Fprintf(&b, "The same table from the ledger, for any period: %s\n", s.Command())
		return b.String()
	}
	who := s.Owner
	if s.Finance {
		who = "all teams"
	}
	period := s.From.Format(time.DateOnly)
	if s.Period == "month" {
		period = s.From.Format("January 2006")
	}
	fmt.Fprintf(&b, "Kafka chargeback for %s, %s: %s %s\n", who, period, s.Total, s.Currency)
	for _, l := range s.Lines {
		fmt.Fprintf(&b, "• %s: %s %s\n", l.Product, l.Cost, s.Currency)
	}
	return b.String()
}

// summaries returns the summaries of rows (the closed rows of [from, to)),
// one per owner and, withFinance, one of everything. Each shows its part
// of st, the statement of all rows.
func summaries(rows []Row, st *Statement, period string, from, to time.Time, currency, finance string, files []string, withFinance bool) []Summary {
	byOwner := map[string]map[string]Money{}
	all := map[string]Money{}
	for _, r := range rows {
		if byOwner[r.Owner] == nil {
			byOwner[r.Owner] = map[string]Money{}
		}
		byOwner[r.Owner][r.Product] += r.Cost
		all[r.Product] += r.Cost
	}
	mk := func(owner string, isFinance bool, costs map[string]Money) Summary {
		s := Summary{Period: period, From: from, To: to, Owner: owner, Finance: isFinance, Currency: currency, Files: files}
		if st != nil {
			s.Statement = st
			if !isFinance {
				s.Statement = st.forOwnerRows(owner, rows)
			}
		}
		if isFinance {
			s.FinanceTeam = finance
		}
		for p, c := range costs {
			s.Lines = append(s.Lines, SummaryLine{p, c})
			s.Total += c
		}
		slices.SortFunc(s.Lines, func(a, b SummaryLine) int {
			if a.Cost != b.Cost {
				if a.Cost > b.Cost {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Product, b.Product)
		})
		return s
	}
	var out []Summary
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		out = append(out, mk(owner, false, byOwner[owner]))
	}
	if withFinance {
		out = append(out, mk("", true, all))
	}
	return out
}

// CloseDay runs the daily close of the UTC day starting at day: it writes
// the day's CSV and FOCUS reports to reports.dir and sends each owner a
// summary. Running it again rewrites the same files and sends nothing.
func (m *Meter) CloseDay(ctx context.Context, day time.Time) error {
	day = dayStart(day)
	return m.closePeriod(ctx, "day", day, day.AddDate(0, 0, 1), day.Format(time.DateOnly), false)
}

// CloseMonth runs the monthly close of the month starting at month: in
// invoice mode the hours the agent did not meter get their share of the
// bill as __idle__ rows, so that the month sums to the bill; then the
// month's reports are written and summaries go to each owner and to
// finance. Running it again writes no rows and sends nothing.
func (m *Meter) CloseMonth(ctx context.Context, month time.Time) error {
	month = monthStart(month)
	end := month.AddDate(0, 1, 0)
	if m.cc.Invoice != nil {
		m.mu.Lock()
		for h := month; h.Before(end); h = h.Add(time.Hour) {
			if _, ok := m.open[h]; ok {
				continue // still being metered: closed at its end
			}
			// A corrupt record is set aside and reads as missing: the
			// hour is billed as __idle__, so the month still sums to the
			// bill.
			_, ok, err := m.ledger.Hour(ctx, h)
			if err != nil {
				m.mu.Unlock()
				return err
			}
			if !ok {
				if err := m.closeHourLocked(ctx, Usage{Hour: h}, m.now()); err != nil {
					m.mu.Unlock()
					return err
				}
			}
		}
		m.mu.Unlock()
	}
	return m.closePeriod(ctx, "month", month, end, month.Format("2006-01"), true)
}

func (m *Meter) closePeriod(ctx context.Context, period string, from, to time.Time, name string, withFinance bool) error {
	rows, err := m.ledger.Rows(ctx, from, to)
	if err != nil {
		return err
	}
	closed := rows[:0:0]
	for _, r := range rows {
		if !r.Estimate {
			closed = append(closed, r)
		}
	}
	// A statement needs one currency; a period in two (the currency was
	// changed) still gets its files, and summaries without the table.
	st, stErr := NewStatement(closed, from, to, m.cc.Currency, Cent)
	if stErr != nil {
		m.log.Warn("the chargeback summary has no table", "period", name, "err", stErr)
	}
	var files []string
	if dir := m.cc.Reports.Dir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cost: reports dir: %w", err)
		}
		for _, f := range []struct{ suffix, format string }{{".csv", FormatCSV}, {".focus.csv", FormatFOCUS}, {".summary.txt", FormatSummary}} {
			if f.format == FormatSummary && st == nil {
				continue
			}
			path := filepath.Join(dir, "chargeback-"+name+f.suffix)
			if err := writeFileAtomic(path, func(w *os.File) error {
				if f.format == FormatSummary {
					_, err := w.WriteString(st.Text())
					return err
				}
				return WriteRows(w, f.format, from, to, closed)
			}); err != nil {
				return err
			}
			files = append(files, path)
		}
	}
	key := keyReports + name
	_, done, err := m.opts.Store.Get(ctx, key)
	if errors.Is(err, state.ErrCorrupt) {
		// The marker was written, so the summaries were sent; the store
		// set the damaged file aside. Write it again rather than send
		// them twice.
		m.metrics.errors.WithLabelValues(stepState).Inc()
		done, err = true, m.opts.Store.Put(ctx, key, []byte(m.now().Format(time.RFC3339)))
	}
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	if m.opts.Notify != nil {
		for _, s := range summaries(closed, st, period, from, to, m.cc.Currency, m.cc.Reports.Finance, files, withFinance) {
			m.opts.Notify(s)
		}
	}
	return m.opts.Store.Put(ctx, key, []byte(m.now().Format(time.RFC3339)))
}

// writeFileAtomic writes path through a temporary file and a rename, so
// that a reader never sees half a report.
func writeFileAtomic(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("cost: write report: %w", err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("cost: write report %s: %w", path, err)
	}
	return nil
}
