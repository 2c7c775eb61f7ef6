package sla

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/state"
)

// CheckStateKeys reports every product and SLO whose name is too long for
// its state to be kept: the directory store (internal/state.Dir) keeps an
// SLO under StateKey as one file, whose name, once set aside as corrupt,
// must fit in state.MaxFileName bytes. It applies whatever state.backend
// says, because meshwatch check keeps its state in a directory even when
// the agent uses Kafka, and a later switch of backend must not break a
// product. It is a check that the loader (package config) runs, without I/O;
// each problem has the path of the name to shorten, the longer of the
// product's and the SLO's, and says to how many characters.
func CheckStateKeys(cfg *meshwatch.Config) meshwatch.Problems {
	var ps meshwatch.Problems
	for i := range cfg.Products {
		p := &cfg.Products[i]
		if p.Name == "" {
			continue // the root package reports it
		}
		// The product is reported once, for its longest SLO name.
		worst, worstLen := -1, 0
		for j, s := range p.SLOs {
			n := state.FileNameLen(StateKey(p.Name, s.Name))
			if s.Name == "" || n <= state.MaxFileName {
				continue
			}
			if encodedLen(s.Name) > encodedLen(p.Name) {
				keep := fitting(s.Name, func(name string) string { return StateKey(p.Name, name) })
				ps = append(ps, tooLong(fmt.Sprintf("products[%d].slos[%d].name", i, j), n, keep, "the product name"))
				continue
			}
			if n > worstLen {
				worst, worstLen = j, n
			}
		}
		if worst >= 0 {
			slo := p.SLOs[worst].Name
			keep := fitting(p.Name, func(name string) string { return StateKey(name, slo) })
			ps = append(ps, tooLong(fmt.Sprintf("products[%d].name", i), worstLen, keep,
				"the name of SLO "+strconv.Quote(slo)))
		}
	}
	return ps
}

func tooLong(path string, n, keep int, other string) meshwatch.Problem {
	fix := fmt.Sprintf("shorten it to at most %d characters", keep)
	if keep == 0 {
		fix = "shorten it and " + other
	}
	return meshwatch.Problem{Path: path, Msg: fmt.Sprintf(
		"is too long to keep state for (the state file name would be %d bytes, at most %d): %s; "+
			`in a state file name a letter, digit, "_" or "-" takes 1 byte and any other byte 3`,
		n, state.MaxFileName, fix)}
}

// encodedLen is the share of a name in a state file name.
func encodedLen(name string) int { return state.FileNameLen(name) - state.FileNameLen("") }

// fitting returns the most characters of name whose key, key(prefix),
// still fits a state file name. The length of a key's file name grows with
// the prefix, so a binary search over the characters finds it.
func fitting(name string, key func(string) string) int {
	ends := make([]int, 0, len(name)+1) // byte offset after each character
	ends = append(ends, 0)
	for i := 0; i < len(name); {
		_, size := utf8.DecodeRuneInString(name[i:])
		i += size
		ends = append(ends, i)
	}
	lo, hi := 0, len(ends)-1 // key(name[:ends[lo]]) fits, unless lo is 0
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if state.FileNameLen(key(name[:ends[mid]])) <= state.MaxFileName {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}
