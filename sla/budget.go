package sla

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Counts are the good and valid events of an SLI over some span of time.
type Counts struct {
	Good  int64 `json:"good"`
	Valid int64 `json:"valid"`
}

// Bad returns the valid events that were not good, never below 0.
func (c Counts) Bad() int64 { return max(c.Valid-c.Good, 0) }

// Ratio returns good / valid, the SLI, and false when there were no valid
// events: a span without data has no SLI value (it is silent, not perfect).
func (c Counts) Ratio() (float64, bool) {
	if c.Valid <= 0 {
		return 0, false
	}
	return clamp01(float64(min(c.Good, c.Valid)) / float64(c.Valid)), true
}

// ErrorRatio returns bad / valid, 0 when there were no valid events.
func (c Counts) ErrorRatio() float64 {
	if c.Valid <= 0 {
		return 0
	}
	return clamp01(float64(c.Bad()) / float64(c.Valid))
}

func (c Counts) add(o Counts) Counts { return Counts{Good: c.Good + o.Good, Valid: c.Valid + o.Valid} }

func clamp01(f float64) float64 { return min(max(f, 0), 1) }

// Burn-rate windows, in the order of Input.Burn and Result.Burn.
const (
	Burn5m = iota
	Burn30m
	Burn1h
	Burn2h
	Burn6h
	Burn1d
	Burn3d
	NumBurnWindows
)

// BurnWindow is one of the fixed windows burn rates are measured over.
type BurnWindow struct {
	Name     string // the metric label: 5m, 30m, 1h, 2h, 6h, 1d, 3d
	Duration time.Duration
}

// BurnWindows are the windows of the multiwindow multi-burn-rate alerts,
// indexed by Burn5m … Burn3d. The SLO's own window comes on top of them, as
// WindowLabel.
var BurnWindows = [NumBurnWindows]BurnWindow{
	{"5m", 5 * time.Minute},
	{"30m", 30 * time.Minute},
	{"1h", time.Hour},
	{"2h", 2 * time.Hour},
	{"6h", 6 * time.Hour},
	{"1d", 24 * time.Hour},
	{"3d", 72 * time.Hour},
}

// WindowLabel is the window label value of the SLO's whole window (28d,
// month, …) in metrics and in Status.
const WindowLabel = "window"

// Severities of an alert decision.
const (
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// AlertRule is one multiwindow burn-rate condition of the SRE workbook
// (chapter 5, "Multiwindow, Multi-Burn-Rate Alerts"): it fires when the burn
// rate over both Long and Short exceeds the factor that spends BudgetShare of
// the window's budget within Long.
type AlertRule struct {
	Severity    string
	Long, Short int     // indexes into BurnWindows
	BudgetShare float64 // of the whole window's budget, spent within Long
}

// AlertRules are the four conditions, pages first: 2 % of the budget in 1h
// (checked over 5m too) and 5 % in 6h (30m) page; 10 % in 1d (2h) and 10 %
// in 3d (6h) open a ticket.
var AlertRules = [4]AlertRule{
	{SeverityPage, Burn1h, Burn5m, 0.02},
	{SeverityPage, Burn6h, Burn30m, 0.05},
	{SeverityTicket, Burn1d, Burn2h, 0.10},
	{SeverityTicket, Burn3d, Burn6h, 0.10},
}

// Factor returns the burn rate above which r fires for an SLO over window:
// BudgetShare × window hours / long-window hours. For 30d that is 14.4, 6, 3
// and 1; for 28d 13.44, 5.6, 2.8 and 0.93. It is rounded to 12 decimal
// places, so that 5.6 is the float nearest 5.6 (not 5.6000000000000005)
// wherever it is shown.
func (r AlertRule) Factor(window time.Duration) float64 {
	return math.Round(r.BudgetShare*window.Hours()/BurnWindows[r.Long].Duration.Hours()*1e12) / 1e12
}

// Decisions an evaluation comes to, from the most to the least urgent.
const (
	DecisionPage      = "page"      // a page rule fires
	DecisionTicket    = "ticket"    // a ticket rule fires
	DecisionExhausted = "exhausted" // no rule fires but the window's budget is spent
	DecisionNone      = "none"      // healthy: data, budget left, no rule fires
	DecisionNoData    = "no_data"   // no valid event in the window: silent, not healthy
)

// Decisions lists every decision, the values of the decision label.
var Decisions = []string{DecisionNone, DecisionTicket, DecisionPage, DecisionExhausted, DecisionNoData}

// MonthWindow is the nominal length of a calendar-month window for burn-rate
// factors and time to exhaustion, so that every month alerts alike and the
// generated Prometheus rules say the same as the agent: 30 days.
const MonthWindow = 30 * 24 * time.Hour

// Input is what one evaluation of one SLO needs: the objective, the window
// length, the low-traffic guard and the counts over the window and each
// burn-rate window.
type Input struct {
	Objective float64       // (0, 1)
	Window    time.Duration // the window's length (MonthWindow for month)
	MinEvents int64         // valid events a rule's long window needs before it may fire
	Total     Counts        // over the SLO window so far
	Burn      [NumBurnWindows]Counts
}

// RuleResult says how one AlertRule came out.
type RuleResult struct {
	Severity  string  `json:"severity"`
	Long      string  `json:"long"`
	Short     string  `json:"short"`
	Factor    float64 `json:"factor"`
	LongBurn  float64 `json:"long_burn"`
	ShortBurn float64 `json:"short_burn"`
	LongValid int64   `json:"long_valid"`
	Firing    bool    `json:"firing"`
	// HeldBack is set when both burn rates exceed the factor but the long
	// window holds fewer than MinEvents valid events.
	HeldBack bool `json:"held_back,omitempty"`
}

// Result is the outcome of Evaluate. No field is ever NaN or infinite.
type Result struct {
	ErrorBudget float64 // 1 − objective
	// Remaining is 1 − (bad / valid over the window) / (1 − objective):
	// 1 untouched (and with no data), 0 spent, below 0 overspent.
	Remaining float64
	Burn      [NumBurnWindows]float64 // error ratio / (1 − objective); 0 without data
	// WindowBurn is the burn rate over the whole window so far.
	WindowBurn float64
	Rules      [len(AlertRules)]RuleResult
	Decision   string
	Why        string
	// Exhaustion is the time until the budget is spent at the current (1h)
	// burn rate; valid only when HasExhaustion. It is 0 for a spent budget
	// and missing when nothing burns.
	Exhaustion    time.Duration
	HasExhaustion bool

	fired, held int // the first rule firing and held back, −1 for none
}

// ErrorBudget returns 1 − objective rounded to 12 decimal places, so that an
// objective of 99.9 % has a budget of exactly the float nearest 0.001 and
// hand-worked budgets come out exactly.
func ErrorBudget(objective float64) float64 {
	return math.Round((1-objective)*1e12) / 1e12
}

// BurnRate returns the error ratio of c divided by the error budget; 0
// without data or without a budget.
func BurnRate(c Counts, budget float64) float64 {
	if c.Valid <= 0 || budget <= 0 {
		return 0
	}
	return float64(c.Bad()) / (float64(c.Valid) * budget)
}

// Remaining returns 1 − (bad / valid) / budget: the share of the error
// budget left over c. It is 1 without data.
func Remaining(c Counts, budget float64) float64 {
	if c.Valid <= 0 || budget <= 0 {
		return 1
	}
	return 1 - float64(c.Bad())/(float64(c.Valid)*budget)
}

// Evaluate computes budget, burn rates and the alert decision of one SLO,
// and says why. It is a pure function of in.
func Evaluate(in Input) Result {
	res := decide(in)
	res.Why = explain(in, res)
	return res
}

// decide is Evaluate without the text of Why, which the evaluation pass
// leaves to whoever reads a status: it does not allocate.
func decide(in Input) Result {
	budget := ErrorBudget(in.Objective)
	res := Result{ErrorBudget: budget, Remaining: Remaining(in.Total, budget), WindowBurn: BurnRate(in.Total, budget)}
	for i, c := range in.Burn {
		res.Burn[i] = BurnRate(c, budget)
	}
	fired, held := -1, -1
	for i, r := range AlertRules {
		f := r.Factor(in.Window)
		rr := RuleResult{
			Severity: r.Severity, Long: BurnWindows[r.Long].Name, Short: BurnWindows[r.Short].Name,
			Factor: f, LongBurn: res.Burn[r.Long], ShortBurn: res.Burn[r.Short], LongValid: in.Burn[r.Long].Valid,
		}
		if rr.LongBurn > f && rr.ShortBurn > f {
			if rr.LongValid < in.MinEvents {
				rr.HeldBack = true
				if held < 0 {
					held = i
				}
			} else {
				rr.Firing = true
				if fired < 0 {
					fired = i
				}
			}
		}
		res.Rules[i] = rr
	}
	if r := res.Burn[Burn1h]; r > 0 && in.Total.Valid > 0 {
		res.HasExhaustion = true
		if res.Remaining > 0 {
			res.Exhaustion = durationOf(res.Remaining * in.Window.Seconds() / r)
		}
	}

	res.fired, res.held = fired, held
	switch {
	case in.Total.Valid <= 0:
		res.Decision = DecisionNoData
	case fired >= 0:
		res.Decision = res.Rules[fired].Severity
	case res.Remaining <= 0 && in.Total.Valid >= in.MinEvents:
		// The low-traffic guard holds for a spent budget too: 3 bad
		// events of 5 say little about a promise.
		res.Decision = DecisionExhausted
	default:
		res.Decision = DecisionNone
	}
	return res
}

// explain returns the why of a decision.
func explain(in Input, res Result) string {
	var why string
	fired, held := res.fired, res.held
	switch res.Decision {
	case DecisionNoData:
		why = "no valid events in the window: the SLI is silent, not healthy"
	case DecisionPage, DecisionTicket:
		rr := res.Rules[fired]
		why = fmt.Sprintf("burn rate %s over %s and %s over %s, both above %s (%s of the %s budget within %s)",
			fmtBurn(rr.LongBurn), rr.Long, fmtBurn(rr.ShortBurn), rr.Short, fmtBurn(rr.Factor),
			fmtPercent(AlertRules[fired].BudgetShare), promDuration(in.Window), rr.Long)
		if !EnoughData(in.Total.Valid, in.MinEvents) {
			// A calendar month a day old: the burn windows reach into
			// the last month, the budget does not.
			why += fmt.Sprintf("; %s in the window to judge its budget", NotEnoughData(in.Total.Valid, in.MinEvents))
		}
	case DecisionExhausted:
		why = fmt.Sprintf("error budget spent: %s errors over the window against a budget of %s, no burn-rate rule fires",
			fmtPercent(in.Total.ErrorRatio()), fmtPercent(res.ErrorBudget))
	case DecisionNone:
		switch {
		case !EnoughData(in.Total.Valid, in.MinEvents) && res.Remaining > 0:
			why = fmt.Sprintf("%s in the window to judge its budget; every burn rate is below its threshold",
				NotEnoughData(in.Total.Valid, in.MinEvents))
		case res.Remaining > 0:
			why = fmt.Sprintf("every burn rate is below its threshold; %s of the budget remains", BudgetDisplay(res.Remaining, in.Total.Valid, in.MinEvents))
		default:
			why = fmt.Sprintf("%s in the window to judge its budget (%s errors against a budget of %s)",
				NotEnoughData(in.Total.Valid, in.MinEvents), fmtPercent(in.Total.ErrorRatio()), fmtPercent(res.ErrorBudget))
		}
	}
	if held >= 0 && (fired < 0 || AlertRules[held].Severity == SeverityPage && AlertRules[fired].Severity != SeverityPage) {
		rr := res.Rules[held]
		why += fmt.Sprintf("; low traffic: burn rate %s over %s would %s, held back because %s holds %d valid events, fewer than min_events %d",
			fmtBurn(rr.LongBurn), rr.Long, verb(rr.Severity), rr.Long, rr.LongValid, in.MinEvents)
	}
	return why
}

func verb(severity string) string {
	if severity == SeverityTicket {
		return "open a ticket"
	}
	return "page"
}

// durationOf converts seconds to a Duration, saturating instead of
// overflowing.
func durationOf(sec float64) time.Duration {
	if sec >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(sec * float64(time.Second))
}

func fmtBurn(f float64) string {
	return strconv.FormatFloat(roundSig(f, 4), 'f', -1, 64) + "×"
}

func fmtPercent(f float64) string {
	return strconv.FormatFloat(roundSig(f*100, 4), 'f', -1, 64) + "%"
}

// roundSig rounds f to n significant digits.
func roundSig(f float64, n int) float64 {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	p, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', n, 64), 64)
	if err != nil {
		return f
	}
	return p
}
