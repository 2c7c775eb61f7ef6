package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/notice"
	"github.com/meshwatch/meshwatch/quality"
)

// noticeEvery is how often the agent checks for deprecations to announce
// and new schema versions of the products' subjects: one registry request
// per subject, so not at every lag pass.
const noticeEvery = time.Minute

// newNotices returns the notifier of consuming teams for core c: the
// deprecations of a.cfg's products and, with a schema registry, their new
// schema versions, announced through c's alert manager.
func (a *App) newNotices(c *core) (*notice.Notifier, error) {
	var reg *sr.Client
	if a.set.SchemaRegistry != nil {
		var err error
		if reg, err = quality.NewRegistryClient(a.set.SchemaRegistry); err != nil {
			return nil, fmt.Errorf("notices: %w", err)
		}
	}
	return notice.New(notice.Options{
		Config: a.cfg, Audiences: a.audiences, Registry: reg, Store: c.fence,
		Now: a.opts.Now, Logger: a.log, Registerer: c.reg,
		Announce: func(ctx context.Context, n notice.Notice) error {
			err := c.alerts.Announce(ctx, alert.Announcement{Kind: n.Kind, Channel: n.Channel, Text: n.Text, Key: n.Key})
			if errors.Is(err, alert.ErrNoAnnouncer) {
				return notice.ErrNowhere
			}
			return err
		},
	})
}

// runNotices checks the notices every noticeEvery, the first time one
// noticeEvery after the start: by then the lag monitor has seen the groups
// that read each product, so a schema version is not told to the declared
// consumers only and then taken as known.
func (a *App) runNotices(n *notice.Notifier) func(ctx context.Context) error {
	every := cmp.Or(a.opts.NoticeEvery, noticeEvery)
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			if err := n.Check(ctx); err != nil && ctx.Err() == nil {
				a.log.Debug("notices: a pass failed; retried at the next", "err", err)
			}
		}
	}
}
