package state

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Mem is a Store in memory: for a component given no store (its state is
// lost on restart) and for tests. It holds the bytes it was given, so Get
// never reports ErrCorrupt; SetAside (a consumer that cannot decode a
// value) keeps the value under key+".corrupt", which Keys lists, and logs
// nothing. Invalid keys are rejected as by the other stores.
type Mem struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMem returns an empty Mem.
func NewMem() *Mem { return &Mem{m: make(map[string][]byte)} }

// Get implements Store.
func (s *Mem) Get(_ context.Context, key string) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return slices.Clone(v), ok, nil
}

// Put implements Store.
func (s *Mem) Put(_ context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = slices.Clone(value)
	return nil
}

// PutMany implements Store.
func (s *Mem) PutMany(ctx context.Context, entries map[string][]byte) error {
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if err := s.Put(ctx, k, entries[k]); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Store.
func (s *Mem) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Keys implements Store.
func (s *Mem) Keys(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// SetAside implements Store.
func (s *Mem) SetAside(_ context.Context, key, _ string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		s.m[key+".corrupt"] = v
		delete(s.m, key)
	}
	return nil
}
