package main

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/meshwatch/meshwatch"
)

// durationFlag is a flag.Value of a duration written as in the config:
// Go units plus whole days ("90m", "2h", "3d", "1d12h").
type durationFlag time.Duration

func (d *durationFlag) String() string { return meshwatch.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := meshwatch.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration: write Go units and days, e.g. 90m, 2h, 3d or 1d12h", s)
	}
	*d = durationFlag(v)
	return nil
}

// buildVersion returns the version set at build time (make build, the
// release images), or, for a plain `go build` or `go install`, what the Go
// toolchain recorded: the module version, or the VCS revision (12 digits,
// "-dirty" with uncommitted changes) and its time.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	rev = rev[:min(12, len(rev))]
	if dirty {
		rev += "-dirty"
	}
	if at != "" {
		return fmt.Sprintf("dev-%s (%s)", rev, at)
	}
	return "dev-" + rev
}
