package expo

import (
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// HistogramValue is one series of a Histogram family: a Prometheus native
// histogram (positive buckets only), classic buckets, or both.
type HistogramValue struct {
	Count   uint64
	Sum     float64
	Created time.Time // zero: unknown

	// Classic buckets: ascending upper bounds (+Inf excluded; it is
	// Count) and the cumulative count of each.
	Bounds     []float64
	Cumulative []uint64

	// Native buckets, with Native set: the schema (2^-Schema… growth per
	// bucket, as Prometheus defines it), the zero bucket, and the counts
	// of consecutive positive buckets from index Offset (bucket i holds
	// (2^((i-1)/2^Schema), 2^(i/2^Schema)]). Empty buckets may be among
	// them.
	Native        bool
	Schema        int32
	ZeroThreshold float64
	ZeroCount     uint64
	Offset        int32
	Buckets       []uint64
}

// maxGap is the most empty buckets a span takes in rather than starting a
// new span, as client_golang does: a span costs more than two deltas.
const maxGap = 2

// proto builds the protobuf message of the histogram.
func (h *HistogramValue) proto() *dto.Histogram {
	count, sum := h.Count, h.Sum
	out := &dto.Histogram{SampleCount: &count, SampleSum: &sum}
	if !h.Created.IsZero() {
		out.CreatedTimestamp = timestamppb.New(h.Created)
	}
	for i, b := range h.Bounds {
		ub, c := b, h.Cumulative[i]
		out.Bucket = append(out.Bucket, &dto.Bucket{UpperBound: &ub, CumulativeCount: &c})
	}
	if !h.Native {
		return out
	}
	schema, zt, zc := h.Schema, h.ZeroThreshold, h.ZeroCount
	out.Schema, out.ZeroThreshold, out.ZeroCount = &schema, &zt, &zc
	var prev int64
	next := int32(0) // the index after the last span's end
	var cur *dto.BucketSpan
	for i, n := range h.Buckets {
		if n == 0 {
			continue
		}
		idx := h.Offset + int32(i)
		switch gap := idx - next; {
		case cur != nil && gap <= maxGap:
			for range gap { // the empty buckets between, as deltas to 0
				out.PositiveDelta = append(out.PositiveDelta, -prev)
				prev = 0
			}
			*cur.Length += uint32(gap) + 1
		default:
			off, length := gap, uint32(1)
			if cur == nil {
				off = idx
			}
			cur = &dto.BucketSpan{Offset: &off, Length: &length}
			out.PositiveSpan = append(out.PositiveSpan, cur)
		}
		out.PositiveDelta = append(out.PositiveDelta, int64(n)-prev)
		prev, next = int64(n), idx+1
	}
	if len(out.PositiveSpan) == 0 && zt == 0 && zc == 0 {
		// An empty native histogram is told apart from a classic one by a
		// span of no bucket.
		off, length := int32(0), uint32(0)
		out.PositiveSpan = []*dto.BucketSpan{{Offset: &off, Length: &length}}
	}
	return out
}
