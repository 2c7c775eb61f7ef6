package quality

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

func TestParseWire(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		id      uint32
		payload []byte
		reason  Reason
	}{
		{name: "empty", in: nil, reason: ReasonTruncated},
		{name: "json", in: []byte(`{"a":1}`), reason: ReasonBadMagicByte},
		{name: "magic only", in: []byte{0}, reason: ReasonTruncated},
		{name: "short id", in: []byte{0, 0, 0, 1}, reason: ReasonTruncated},
		{name: "header only", in: []byte{0, 0, 0, 0, 7}, id: 7, payload: []byte{}},
		{name: "id and payload", in: []byte{0, 1, 2, 3, 4, 9, 9}, id: 0x01020304, payload: []byte{9, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, payload, reason := ParseWire(tc.in)
			if reason != tc.reason || id != tc.id || !slices.Equal(payload, tc.payload) {
				t.Errorf("ParseWire(%x) = %d, %x, %s; want %d, %x, %s", tc.in, id, payload, reason, tc.id, tc.payload, tc.reason)
			}
		})
	}
}

func TestParseMessageIndexes(t *testing.T) {
	enc := func(idx ...int) []byte {
		b, _ := new(sr.ConfluentHeader).AppendEncode(nil, 1, idx)
		return append(b[5:], 0xAA) // the message follows
	}
	for _, tc := range []struct {
		name   string
		in     []byte
		idx    []int
		reason Reason
	}{
		{name: "first message shortcut", in: enc(0), idx: []int{0}},
		{name: "second message", in: enc(1), idx: []int{1}},
		{name: "nested", in: enc(2, 0, 3), idx: []int{2, 0, 3}},
		{name: "empty", in: nil, reason: ReasonTruncated},
		{name: "count without indexes", in: []byte{4}, reason: ReasonTruncated},
		{name: "negative count", in: []byte{1}, reason: ReasonSchemaMismatch},
		{name: "negative index", in: []byte{2, 1}, reason: ReasonSchemaMismatch},
		{name: "too deep", in: []byte{40}, reason: ReasonSchemaMismatch},
		{name: "overlong varint", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, reason: ReasonSchemaMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, rest, reason := ParseMessageIndexes(tc.in, nil)
			if reason != tc.reason {
				t.Fatalf("reason = %s, want %s", reason, tc.reason)
			}
			if reason != ReasonOK {
				return
			}
			if !slices.Equal(idx, tc.idx) || !slices.Equal(rest, []byte{0xAA}) {
				t.Errorf("got %v, rest %x; want %v, rest aa", idx, rest, tc.idx)
			}
		})
	}
}

func TestParseMessageIndexesReusesBuffer(t *testing.T) {
	in := []byte{4, 2, 4, 0xAA}
	buf := make([]int, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _, _ = ParseMessageIndexes(in, buf)
	})
	if allocs != 0 {
		t.Errorf("ParseMessageIndexes allocates %v times with a buffer, want 0", allocs)
	}
}
