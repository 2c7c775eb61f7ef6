package cost

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Money is an amount of the billing currency in fixed point: nano-units
// (10⁻⁹) of the currency, so that a price of 0.000000125 per GiB is exact
// and ±9.2 billion currency units fit. Arithmetic on Money is integer
// arithmetic; nothing in the ledger is ever a float.
type Money int64

// Nano is one currency unit in Money.
const Nano Money = 1_000_000_000

// Cent is one hundredth of a currency unit, the quantum of invoice mode.
const Cent Money = Nano / 100

// ParseMoney parses a decimal amount such as "12000", "0.10" or "-1.5" with
// at most nine digits after the point. Exponents are not accepted: a price
// is written as it is read on a rate card.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	orig := s
	if s == "" {
		return 0, errors.New("empty amount")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" && (!hasPoint || frac == "") {
		return 0, fmt.Errorf("%q is not a decimal amount", orig)
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("%q has more than 9 decimal places", orig)
	}
	for _, part := range []string{intPart, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%q is not a decimal amount (digits and one point only)", orig)
			}
		}
	}
	var whole int64
	if intPart != "" {
		v, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || v > math.MaxInt64/int64(Nano)-1 {
			return 0, fmt.Errorf("%q is too large", orig)
		}
		whole = v
	}
	var f int64
	if frac != "" {
		v, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		f = v
	}
	m := Money(whole*int64(Nano) + f)
	if neg {
		m = -m
	}
	return m, nil
}

// String formats m as a plain decimal with as many decimals as it needs,
// at least two: "12.50", "0.000137", "-3.00".
func (m Money) String() string {
	return m.format(2)
}

// Decimal formats m with all nine decimals trimmed of trailing zeros, and
// no fewer than minDecimals decimals.
func (m Money) format(minDecimals int) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = uint64(-m) // MinInt64 wraps to itself as uint64, which is right
	}
	whole := u / uint64(Nano)
	frac := fmt.Sprintf("%09d", u%uint64(Nano))
	frac = strings.TrimRight(frac, "0")
	for len(frac) < minDecimals {
		frac += "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.FormatUint(whole, 10))
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Float returns m in currency units, for metrics only.
func (m Money) Float() float64 { return float64(m) / float64(Nano) }

// UnmarshalYAML reads an amount written as a number (0.10) or a string
// ("0.10"), from its text so that no float rounding is involved.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a decimal amount such as 0.10")
	}
	v, err := ParseMoney(n.Value)
	if err != nil {
		return fmt.Errorf("must be a decimal amount such as 0.10: %w", err)
	}
	*m = v
	return nil
}

// MarshalYAML writes m as its decimal text.
func (m Money) MarshalYAML() (any, error) { return m.String(), nil }

// mulDiv returns round(q × price / div), half away from zero, computed in
// 128 bits so that a petabyte times a price never overflows. q and div
// must be ≥ 0; price may be negative. A result beyond int64 saturates.
func mulDiv(q int64, price Money, div int64) Money {
	if q <= 0 || price == 0 || div <= 0 {
		return 0
	}
	neg := price < 0
	p := uint64(price)
	if neg {
		p = uint64(-price)
	}
	hi, lo := bits.Mul64(uint64(q), p)
	// Round half up: add div/2 before dividing.
	var carry uint64
	lo, carry = bits.Add64(lo, uint64(div)/2, 0)
	hi += carry
	if hi >= uint64(div) {
		if neg {
			return math.MinInt64 + 1
		}
		return math.MaxInt64
	}
	quo, _ := bits.Div64(hi, lo, uint64(div))
	if quo > math.MaxInt64 {
		quo = math.MaxInt64
	}
	if neg {
		return -Money(quo)
	}
	return Money(quo)
}

// Split divides total into len(weights) parts in proportion to weights by
// the largest-remainder method: every part is the floor of its exact share
// and the units left over go, one each, to the parts with the largest
// remainders (the earlier part on a tie). The parts always sum to total
// exactly. Negative weights count as 0; when every weight is 0 the split is
// even. quantum is the smallest amount handed out (1 for nano-units, Cent
// for invoice mode); total should be a multiple of it, and any remainder
// below a quantum goes to the first part.
func Split(total Money, weights []int64, quantum Money) []Money {
	n := len(weights)
	out := make([]Money, n)
	if n == 0 {
		return out
	}
	if quantum <= 0 {
		quantum = 1
	}
	neg := total < 0
	t := total
	if neg {
		t = -t
	}
	units := uint64(t / quantum)
	dust := t % quantum

	var sum uint64
	w := make([]uint64, n)
	for i, v := range weights {
		if v > 0 {
			w[i] = uint64(v)
			sum += uint64(v)
		}
	}
	if sum == 0 {
		for i := range w {
			w[i] = 1
		}
		sum = uint64(n)
	}

	shares := make([]uint64, n)
	rems := make([]uint64, n)
	var given uint64
	for i := range n {
		hi, lo := bits.Mul64(units, w[i])
		q, r := bits.Div64(hi, lo, sum)
		shares[i], rems[i] = q, r
		given += q
	}
	left := units - given // < n
	if left > 0 {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sortByRemainder(idx, rems)
		for k := uint64(0); k < left; k++ {
			shares[idx[k]]++
		}
	}
	for i := range n {
		v := Money(shares[i]) * quantum
		if i == 0 {
			v += dust
		}
		if neg {
			v = -v
		}
		out[i] = v
	}
	return out
}

func sortByRemainder(idx []int, rems []uint64) {
	// A stable sort keeps equal remainders in index order, so ties go to
	// the earlier part and Split is deterministic.
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
}
