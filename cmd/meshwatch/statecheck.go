package main

import (
	"context"
	"time"
)

// stateChecker is a state store that can tell whether it can be written
// now (internal/state's Dir: a full disk, a read-only mount, lost
// permissions).
type stateChecker interface {
	Check(ctx context.Context) error
}

// stateCheckTimeout bounds one write check of the state store.
const stateCheckTimeout = 10 * time.Second

// checkStateOnce checks whether the state store can be written, keeps the
// answer for readiness, and logs when that changes.
func (a *App) checkStateOnce(parent context.Context, sc stateChecker) {
	ctx, cancel := context.WithTimeout(parent, stateCheckTimeout)
	defer cancel()
	err := sc.Check(ctx)
	if err != nil && parent.Err() != nil {
		return // shutting down: says nothing of the store
	}
	prev := a.stateErr.Swap(&err)
	switch {
	case err != nil && (prev == nil || *prev == nil):
		a.log.Error("the state store cannot be written: budgets, incidents and the ledger are not saved, and the agent is not ready until it can", "err", err)
	case err == nil && prev != nil && *prev != nil:
		a.log.Info("the state store can be written again")
	}
}

// checkState checks the state store every state.flush until ctx is done,
// when the store can check itself.
func (a *App) checkState(ctx context.Context) error {
	sc, ok := a.store.(stateChecker)
	if !ok {
		<-ctx.Done()
		return nil
	}
	every(ctx, a.set.State.Flush.Std(), func() { a.checkStateOnce(ctx, sc) })
	return nil
}

// every calls fn every d until ctx is done.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// stateError is why the state store could not be written at the last
// check, or nil.
func (a *App) stateError() error {
	if p := a.stateErr.Load(); p != nil {
		return *p
	}
	return nil
}
