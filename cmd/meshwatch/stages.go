package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// component is a long-lived part of the agent: Run until ctx is done.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// stages runs the agent's components in ordered stages. Every component of
// every stage starts at once; on shutdown stage 0 is stopped first and
// waited for, then stage 1, and so on, so that the sources stop before the
// final evaluation, and the evaluation before the outbox and state flush.
// Every wait shares one deadline: shutdown is bounded as a whole.
type stages struct {
	log    *slog.Logger
	stages [][]component

	mu      sync.Mutex
	errs    []error
	cancels []context.CancelFunc
	dones   [][]chan struct{}
	exited  chan string // a component that returned before shutdown
}

func (s *stages) add(stage int, cs ...component) {
	for len(s.stages) <= stage {
		s.stages = append(s.stages, nil)
	}
	s.stages[stage] = append(s.stages[stage], cs...)
}

// start runs every component. Exited (made here unless set before) receives
// the name of any component that returns before stop: the agent is then
// broken and should stop.
func (s *stages) start() {
	if s.exited == nil { // else the owner's channel
		s.exited = make(chan string, 64)
	}
	for _, st := range s.stages {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancels = append(s.cancels, cancel)
		var dones []chan struct{}
		for _, c := range st {
			done := make(chan struct{})
			dones = append(dones, done)
			go func() {
				defer close(done)
				err := c.run(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					s.mu.Lock()
					s.errs = append(s.errs, fmt.Errorf("%s: %w", c.name, err))
					s.mu.Unlock()
				}
				if ctx.Err() == nil {
					select {
					case s.exited <- c.name:
					default:
					}
				}
			}()
		}
		s.dones = append(s.dones, dones)
	}
}

// stop stops the stages in order, each within what is left of deadline. It
// returns the components' errors, and an error naming every component that
// did not stop in time (those are abandoned: bounded means bounded).
func (s *stages) stop(deadline context.Context) error {
	var late []string
	for i, cancel := range s.cancels {
		cancel()
		for j, done := range s.dones[i] {
			select {
			case <-done:
			case <-deadline.Done():
				name := s.stages[i][j].name
				late = append(late, name)
				s.log.Warn("component did not stop within the shutdown timeout; exiting without it", "component", name)
			}
		}
	}
	s.mu.Lock()
	errs := append([]error(nil), s.errs...)
	s.mu.Unlock()
	if len(late) > 0 {
		errs = append(errs, fmt.Errorf("did not stop within %s: %v", shutdownTimeout, late))
	}
	return errors.Join(errs...)
}
