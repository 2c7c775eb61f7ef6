package sla_test

import (
	"fmt"
	"time"

	"github.com/meshwatch/meshwatch/sla"
)

// A 99.9 % SLO over 30 days may fail 0.1 % of its valid events: that is its
// error budget. Ten days into the window, 4,000 of 10 million events were
// bad, 40 % of the budget. In the last hour, though, 2 % of the events
// failed: a burn rate of 20, which would spend the rest within a day. The
// first rule of the SRE workbook (2 % of the budget in 1h, confirmed over
// 5m) pages.
func ExampleEvaluate() {
	res := sla.Evaluate(sla.Input{
		Objective: 0.999,
		Window:    30 * 24 * time.Hour,
		MinEvents: 100, // fewer valid events in a rule's long window hold it back
		Total:     sla.Counts{Good: 9_996_000, Valid: 10_000_000},
		Burn: [sla.NumBurnWindows]sla.Counts{
			sla.Burn5m:  {Good: 975, Valid: 1_000},
			sla.Burn30m: {Good: 5_880, Valid: 6_000},
			sla.Burn1h:  {Good: 11_760, Valid: 12_000},
			sla.Burn2h:  {Good: 23_700, Valid: 24_000},
			sla.Burn6h:  {Good: 71_650, Valid: 72_000},
			sla.Burn1d:  {Good: 287_500, Valid: 288_000},
			sla.Burn3d:  {Good: 863_000, Valid: 864_000},
		},
	})
	fmt.Println("decision:", res.Decision)
	fmt.Printf("budget remaining: %.0f%%\n", 100*res.Remaining)
	fmt.Printf("burn rate: %.0f over 1h, %.1f over 6h\n", res.Burn[sla.Burn1h], res.Burn[sla.Burn6h])
	fmt.Println("spent in:", res.Exhaustion.Round(time.Minute))
	fmt.Println("why:", res.Why)

	// Output:
	// decision: page
	// budget remaining: 60%
	// burn rate: 20 over 1h, 4.9 over 6h
	// spent in: 21h36m0s
	// why: burn rate 20× over 1h and 25× over 5m, both above 14.4× (2% of the 30d budget within 1h)
}
