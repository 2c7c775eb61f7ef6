package meshwatch

import "time"

// SLIEvents counts the good and valid events of one SLO of one product over
// the interval (From, To]. Producers of SLIs (the collector, and later lag and
// quality) emit them; the SLO engine sums them into its windows.
type SLIEvents struct {
	Product string
	SLO     string
	SLI     string
	Good    int64
	Valid   int64
	From    time.Time
	To      time.Time
}
