package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/cost"
	"github.com/meshwatch/meshwatch/internal/webauth"
	"github.com/meshwatch/meshwatch/quality"
	"github.com/meshwatch/meshwatch/sla"
)

// settings is the whole configuration: the model, and the sections that
// leaf packages own (cost:, alerting:), decoded by the same strict loader.
type settings struct {
	*meshwatch.Config
	Cost     *cost.Config  // nil: no chargeback
	Alerting *alert.Config // nil: alerts only on /api/v1/alerts
	Web      *webSettings  // nil: plain HTTP, no basic auth

	// dir is the directory of the configuration file, that relative
	// paths of web: and http.api_token_file are relative to ("" for a
	// configuration built in code: the working directory).
	dir string
}

// webSettings is the web: section: the Prometheus exporter-toolkit web
// configuration file (TLS, client certificates, basic auth, headers), as
// exporters read it with --web.config.file.
type webSettings struct {
	ConfigFile string `yaml:"config_file"`
}

// path returns p relative to the configuration file's directory.
func (s *settings) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// webConfigFile is the web configuration file to serve with, "" for none.
func (s *settings) webConfigFile() string {
	if s.Web == nil {
		return ""
	}
	return s.path(s.Web.ConfigFile)
}

// webConfigUsage is the help of the -web.config.file flags.
const webConfigUsage = "the Prometheus exporter-toolkit web configuration file (TLS, client certificates, basic_auth_users, headers); overrides web.config_file of the config"

// setWebConfigFile sets the web configuration file from a flag (relative
// to the working directory) and checks it; "" keeps the config's.
func (s *settings) setWebConfigFile(flagValue string) error {
	if flagValue == "" {
		return nil
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return err
	}
	s.Web = &webSettings{ConfigFile: abs}
	return webauth.ValidateWebConfig(abs)
}

// checkHTTP checks the files that secure the HTTP server: the web
// configuration file as the toolkit will read it, and the token file.
func (s *settings) checkHTTP(cfg *meshwatch.Config) meshwatch.Problems {
	var ps meshwatch.Problems
	if s.Web != nil {
		if s.Web.ConfigFile == "" {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: "is required in a web: section: the exporter-toolkit web configuration file (TLS, basic_auth_users)"})
		} else if err := webauth.ValidateWebConfig(s.webConfigFile()); err != nil {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: err.Error()})
		}
	}
	if f := cfg.HTTP.APITokenFile; f != "" {
		if _, err := webauth.ReadTokens(s.path(f)); err != nil {
			ps = append(ps, meshwatch.Problem{Path: "http.api_token_file", Msg: err.Error()})
		}
	}
	return ps
}

// extensions returns the loader extensions that fill s's sections and
// check what the root package cannot: CEL rules, cost settings, and names
// too long for the state store.
func (s *settings) extensions() []config.Extension {
	return []config.Extension{
		{Key: "cost", Into: &s.Cost, Check: func(cfg *meshwatch.Config) meshwatch.Problems {
			if s.Cost == nil {
				return nil
			}
			s.Cost.SetDefaults()
			names := make([]string, len(cfg.Products))
			for i, p := range cfg.Products {
				names[i] = p.Name
			}
			return s.Cost.Validate(names)
		}},
		{Key: "alerting", Into: &s.Alerting, Check: func(*meshwatch.Config) meshwatch.Problems {
			return s.Alerting.Validate()
		}},
		{Key: "web", Into: &s.Web, Check: s.checkHTTP},
		{Check: quality.Check},
		{Check: sla.CheckStateKeys},
	}
}

// loadSettings loads and validates a config file with its sections,
// printing every problem to stderr. It returns nil when there are errors.
func loadSettings(path string, stderr io.Writer) *settings {
	s := &settings{dir: filepath.Dir(path)}
	cfg, problems, err := config.LoadFileWith(path, s.extensions()...)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if err != nil {
		if len(problems) == 0 {
			fmt.Fprintf(stderr, "meshwatch: %v\n", err)
		}
		return nil
	}
	s.Config = cfg
	return s
}
