package collector

import "slices"

// metaView is the collector's cached view of its topics' metadata: the
// leaders the end-offset listing and the probes ask, and the leaders and
// in-sync replicas availability is judged by.
//
// A mesh of up to metaSizes.full topics is read whole at every tick. A
// larger one is read a slice at a time: each tick asks for the next
// max(full, topics/cycle) topics in turn (the last slice of a round may be
// shorter), so that a tick reads at most a sixth of a large mesh by
// default and every topic is read again at least every cycle ticks, and
// also for
//   - topics the view does not have yet (new since discovery),
//   - topics the view saw a problem on (no leader, under min ISR, an
//     error), so that a recovery shows at the next tick,
//   - topics whose end offsets the view's leaders could not give (a leader
//     moved, a broker failed, a partition was added or the topic deleted),
//     in a second request the same tick.
type metaView struct {
	sizes   metaSizes
	topics  map[string]topicMeta
	next    int             // where in the routes' names the next slice starts
	recheck map[string]bool // topics to read at the next tick
}

// metaSizes are the view's sizes; zero fields take the defaults.
type metaSizes struct {
	full  int // meshes of at most this many topics are read whole each tick (default 1000)
	cycle int // ticks over which a larger mesh is read whole (default 6: a minute at the default tick)
}

func newMetaView(s metaSizes) metaView {
	if s.full <= 0 {
		s.full = 1000
	}
	if s.cycle <= 0 {
		s.cycle = 6
	}
	return metaView{sizes: s, topics: map[string]topicMeta{}}
}

// ask returns the topics of r to read this tick, and whether that is all
// of them, and advances the slice.
func (v *metaView) ask(r *routes) (ask []string, whole bool) {
	names := r.names
	n := len(names)
	if n <= v.sizes.full {
		return names, true
	}
	k := max((n+v.sizes.cycle-1)/v.sizes.cycle, v.sizes.full)
	if v.next >= n {
		v.next = 0
		v.prune(r)
	}
	// v.next indexes the routes' names, which discovery may change
	// between ticks: a topic may then wait a round longer, never more.
	ask = slices.Clone(names[v.next:min(v.next+k, n)])
	v.next += k
	in := make(map[string]bool, len(ask))
	for _, t := range ask {
		in[t] = true
	}
	for _, t := range names {
		if _, ok := v.topics[t]; !ok && !in[t] {
			ask, in[t] = append(ask, t), true
		}
	}
	for t := range v.recheck {
		if !in[t] && r.topics[t] != nil {
			ask, in[t] = append(ask, t), true
		}
	}
	return ask, false
}

// update puts the answer for the asked topics in the view: a topic asked
// and not answered is gone from it. When every topic was asked, the answer
// is the view, and topics no longer routed leave it.
func (v *metaView) update(asked []string, answer map[string]topicMeta, whole bool) {
	if whole {
		v.topics = answer
		return
	}
	for _, t := range asked {
		if tm, ok := answer[t]; ok {
			v.topics[t] = tm
		} else {
			delete(v.topics, t)
		}
	}
}

// prune drops the topics that are no longer routed, when the slice wraps
// around.
func (v *metaView) prune(r *routes) {
	for t := range v.topics {
		if r.topics[t] == nil {
			delete(v.topics, t)
		}
	}
}
