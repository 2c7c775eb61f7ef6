package quality

// maxGap is the largest jump in a producer's sequence counted as missing
// numbers; a larger one is a new sequence (a producer that restarted with
// another numbering), not a million lost records.
const maxGap = 100_000

// defaultMaxKeys bounds the producers a sequence tracks when
// quality.sequence.max_keys is not set.
const defaultMaxKeys = 100_000

// seqResult is what one sequence number says about its producer's sequence.
type seqResult struct {
	expected int64 // expected sequence numbers this record accounts for (completeness events)
	missing  int64 // of those, the ones that never came (bad events)
	dup      bool  // the number was not above the producer's last
	reset    bool  // the producer started a new sequence
	evicted  bool  // the idlest producer was forgotten to make room
}

// partEpoch counts the times the collector skipped records of a partition:
// a producer's last number seen before a skip cannot tell a gap after it.
type partEpoch struct{ n uint64 }

type partKey struct {
	topic     string
	partition int32
}

// seqEntry is one producer's sequence, in a list from the most to the least
// recently seen.
type seqEntry struct {
	key        uint64
	last       int64
	part       *partEpoch
	epoch      uint64
	prev, next *seqEntry
}

// sequencer follows the sequence numbers of every producer of a product,
// with bounded memory: beyond maxKeys producers the idlest is forgotten. It
// is not safe for concurrent use; its product's lock guards it.
type sequencer struct {
	maxKeys    int
	keys       map[uint64]*seqEntry
	parts      map[partKey]*partEpoch
	head, tail *seqEntry
}

func newSequencer(maxKeys int) *sequencer {
	if maxKeys <= 0 {
		maxKeys = defaultMaxKeys
	}
	return &sequencer{maxKeys: maxKeys, keys: map[uint64]*seqEntry{}, parts: map[partKey]*partEpoch{}}
}

func (s *sequencer) part(topic string, partition int32) *partEpoch {
	pe := s.parts[partKey{topic, partition}]
	if pe == nil {
		pe = &partEpoch{}
		s.parts[partKey{topic, partition}] = pe
	}
	return pe
}

// skipped marks that records of the partition were not observed.
func (s *sequencer) skipped(topic string, partition int32) { s.part(topic, partition).n++ }

// observe takes sequence number seq of the producer whose key hashes to key,
// read from the partition.
//
// The first number of a producer, or the first after the partition was
// skipped, only sets where its sequence stands. Then seq = last+1 is one
// expected number that came; seq = last+1+g is g+1 expected numbers of which
// g are missing; seq ≤ last is a duplicate (seq 0 or 1 after a higher
// number is a producer that started again); a jump beyond maxGap starts
// again too.
func (s *sequencer) observe(topic string, partition int32, key uint64, seq int64) (res seqResult) {
	pe := s.part(topic, partition)
	e := s.keys[key]
	if e == nil {
		if len(s.keys) >= s.maxKeys {
			s.evict()
			res.evicted = true
		}
		e = &seqEntry{key: key, last: seq, part: pe, epoch: pe.n}
		s.keys[key] = e
		s.pushFront(e)
		return res
	}
	s.moveToFront(e)
	if e.part != pe || e.epoch != pe.n {
		e.part, e.epoch, e.last = pe, pe.n, seq
		return res
	}
	switch {
	case seq > e.last:
		gap := uint64(seq) - uint64(e.last) - 1
		if gap > maxGap {
			res.reset = true
			break
		}
		res.expected = int64(gap) + 1
		res.missing = int64(gap)
	case seq <= 1 && e.last > 1:
		res.reset = true
	default:
		res.dup = true
		return res
	}
	e.last = seq
	return res
}

func (s *sequencer) len() int { return len(s.keys) }

func (s *sequencer) pushFront(e *seqEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *sequencer) unlink(e *seqEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *sequencer) moveToFront(e *seqEntry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *sequencer) evict() {
	if e := s.tail; e != nil {
		s.unlink(e)
		delete(s.keys, e.key)
	}
}
