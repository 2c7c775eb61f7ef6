package cost

import (
	"math"
	"time"
)

// sample is what one pass read from the cluster, and what the next pass
// integrates against. It is persisted (with the open hours) so that a
// restart resumes where the agent stopped.
type sample struct {
	At     time.Time                             `json:"at"`
	Zones  int                                   `json:"zones"`
	Topics map[string]map[int32]*partSample      `json:"topics"`
	Groups map[string]map[string]map[int32]int64 `json:"groups"` // group → topic → partition → committed offset
	Racks  map[int32]string                      `json:"-"`
	IDs    map[string][16]byte                   `json:"-"`
}

// partSample is one partition in a sample.
type partSample struct {
	Leader   int32   `json:"leader"`
	Replicas []int32 `json:"replicas,omitempty"`
	Start    int64   `json:"start"`
	End      int64   `json:"end"`
	// Bytes is on disk over the replicas the metadata names; LeaderBytes on
	// the leader alone.
	Bytes       int64 `json:"bytes"`
	LeaderBytes int64 `json:"leader_bytes"`
	// CrossRack is how many replicas sit in another rack than the leader.
	CrossRack int `json:"cross_rack"`
	// BPO is bytes per offset, measured on the tail at BPOAt.
	BPO   float64   `json:"bpo"`
	BPOAt time.Time `json:"bpo_at"`
}

// accum is one hour's usage being integrated, in floats until the close.
type accum struct {
	Hour    time.Time            `json:"hour"`
	Seconds float64              `json:"seconds"`
	Zones   int                  `json:"zones"`
	Topics  map[string]*topicAcc `json:"topics"`
}

type topicAcc struct {
	PartitionSeconds float64              `json:"partition_seconds"`
	StorageByteSec   float64              `json:"storage_byte_sec"`
	LogicalByteSec   float64              `json:"logical_byte_sec"`
	Ingress          float64              `json:"ingress"`
	CrossAZRepl      float64              `json:"cross_az_repl"`
	Groups           map[string]*groupAcc `json:"groups,omitempty"`
}

type groupAcc struct {
	Egress float64 `json:"egress"`
	Replay float64 `json:"replay"`
}

func (a *accum) topic(name string) *topicAcc {
	t := a.Topics[name]
	if t == nil {
		t = &topicAcc{}
		a.Topics[name] = t
	}
	return t
}

func (t *topicAcc) group(name string) *groupAcc {
	if t.Groups == nil {
		t.Groups = map[string]*groupAcc{}
	}
	g := t.Groups[name]
	if g == nil {
		g = &groupAcc{}
		t.Groups[name] = g
	}
	return g
}

// usage rounds the accumulated hour to a Usage.
func (a *accum) usage() Usage {
	u := Usage{Hour: a.Hour, Seconds: min(int64(math.Round(a.Seconds)), secondsPerHr), Zones: a.Zones}
	for name, t := range sortedKeys(a.Topics) {
		tu := TopicUsage{
			Topic:                   name,
			PartitionSeconds:        round(t.PartitionSeconds),
			StorageByteHours:        round(t.StorageByteSec / secondsPerHr),
			LogicalByteHours:        round(t.LogicalByteSec / secondsPerHr),
			IngressBytes:            round(t.Ingress),
			CrossAZReplicationBytes: round(t.CrossAZRepl),
		}
		for g, ga := range sortedKeys(t.Groups) {
			if e, r := round(ga.Egress), round(ga.Replay); e != 0 || r != 0 {
				tu.Groups = append(tu.Groups, GroupUsage{Group: g, EgressBytes: e, ReplayBytes: r})
			}
		}
		u.Topics = append(u.Topics, tu)
	}
	return u
}

func round(f float64) int64 {
	if f <= 0 || math.IsNaN(f) {
		return 0
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(math.Round(f))
}

// delta is what one integration step added, for the usage counters.
type delta struct {
	ingress, crossAZ map[string]float64            // topic → bytes
	egress, replay   map[string]map[string]float64 // topic → group → bytes
}

// integrate adds the usage between prev and cur to the open hours, split
// over the hours the interval spans in proportion to time: storage by the
// trapezoid rule, partitions by the current count, offsets deltas times
// bytes per offset. A group's first committed offset on a partition is
// measured from the partition's previous end offset when it is at or past
// it (the group started at the end), else from the previous start offset
// (it read from the beginning); on the very first sample there is nothing
// to measure from and it is the baseline. prev nil: cur is the baseline.
func integrate(open map[time.Time]*accum, prev, cur *sample) delta {
	d := delta{ingress: map[string]float64{}, crossAZ: map[string]float64{},
		egress: map[string]map[string]float64{}, replay: map[string]map[string]float64{}}
	if prev == nil || !cur.At.After(prev.At) {
		return d
	}
	t0, t1 := prev.At, cur.At
	total := t1.Sub(t0).Seconds()

	type span struct {
		acc      *accum
		seconds  float64
		fraction float64
	}
	var spans []span
	for h := t0.UTC().Truncate(time.Hour); h.Before(t1); h = h.Add(time.Hour) {
		from, to := maxTime(h, t0), minTime(h.Add(time.Hour), t1)
		s := to.Sub(from).Seconds()
		if s <= 0 {
			continue
		}
		a := open[h]
		if a == nil {
			a = &accum{Hour: h, Topics: map[string]*topicAcc{}}
			open[h] = a
		}
		a.Seconds += s
		a.Zones = max(a.Zones, cur.Zones)
		spans = append(spans, span{a, s, s / total})
	}

	for topic, parts := range cur.Topics {
		prevParts := prev.Topics[topic]
		for p, ps := range parts {
			var pp *partSample
			if prevParts != nil {
				pp = prevParts[p]
			}
			bytes, logical := float64(ps.Bytes), float64(ps.LeaderBytes)
			if pp != nil {
				bytes, logical = (bytes+float64(pp.Bytes))/2, (logical+float64(pp.LeaderBytes))/2
			}
			var in float64
			if pp != nil && ps.End > pp.End {
				in = float64(ps.End-pp.End) * ps.BPO
			}
			for _, sp := range spans {
				ta := sp.acc.topic(topic)
				ta.PartitionSeconds += sp.seconds
				ta.StorageByteSec += bytes * sp.seconds
				ta.LogicalByteSec += logical * sp.seconds
				ta.Ingress += in * sp.fraction
				ta.CrossAZRepl += in * float64(ps.CrossRack) * sp.fraction
			}
			d.ingress[topic] += in
			d.crossAZ[topic] += in * float64(ps.CrossRack)
		}
	}

	for group, topics := range cur.Groups {
		for topic, parts := range topics {
			for p, c := range parts {
				ps := cur.Topics[topic][p]
				if ps == nil {
					continue
				}
				var pp *partSample
				if prevParts := prev.Topics[topic]; prevParts != nil {
					pp = prevParts[p]
				}
				base, known := prev.Groups[group][topic][p]
				if !known {
					if pp == nil {
						continue
					}
					base = pp.Start
					if c >= pp.End {
						base = pp.End
					}
				}
				var read, replay float64
				if c > base {
					read = float64(c-base) * ps.BPO
				} else if c < base && known {
					replay = float64(base-c) * ps.BPO
				}
				if read == 0 && replay == 0 {
					continue
				}
				for _, sp := range spans {
					ga := sp.acc.topic(topic).group(group)
					ga.Egress += read * sp.fraction
					ga.Replay += replay * sp.fraction
				}
				add2(d.egress, topic, group, read)
				add2(d.replay, topic, group, replay)
			}
		}
	}
	return d
}

func add2(m map[string]map[string]float64, a, b string, v float64) {
	if v == 0 {
		return
	}
	if m[a] == nil {
		m[a] = map[string]float64{}
	}
	m[a][b] += v
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
