package main

import (
	"fmt"
	"io"

	"github.com/meshwatch/meshwatch/config"
)

// webConfigUsage is the help of the -web.config.file flags.
const webConfigUsage = "the Prometheus exporter-toolkit web configuration file (TLS, client certificates, basic_auth_users, headers); overrides web.config_file of the config"

// loadSettings loads and validates a config file with its sections,
// printing every problem to stderr. It returns nil when there are errors.
func loadSettings(path string, stderr io.Writer) *config.Config {
	return loadSettingsWith(path, config.Options{}, stderr)
}

// loadSettingsWith is loadSettings with load options.
func loadSettingsWith(path string, o config.Options, stderr io.Writer) *config.Config {
	set, problems, err := config.LoadFileWith(path, o)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if err != nil {
		if len(problems) == 0 {
			fmt.Fprintf(stderr, "meshwatch: %v\n", err)
		}
		return nil
	}
	return set
}
