package config

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// SetWebConfigFile sets the web configuration file from a flag (relative
// to the working directory) and checks it; "" keeps the configuration's.
func (c *Config) SetWebConfigFile(flagValue string) error {
	if flagValue == "" {
		return nil
	}
	abs, err := filepath.Abs(flagValue)
	if err != nil {
		return err
	}
	c.Web = &Web{ConfigFile: abs}
	return webauth.ValidateWebConfig(abs)
}

// checkHTTP checks the files that secure the HTTP server: the web
// configuration file as the toolkit will read it, and the token file.
func (c *Config) checkHTTP() meshwatch.Problems {
	var ps meshwatch.Problems
	if c.Web != nil {
		if c.Web.ConfigFile == "" {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: "is required in a web: section: the exporter-toolkit web configuration file (TLS, basic_auth_users)"})
		} else if err := webauth.ValidateWebConfig(c.WebConfigFile()); err != nil {
			ps = append(ps, meshwatch.Problem{Path: "web.config_file", Msg: err.Error()})
		}
	}
	if f := c.HTTP.APITokenFile; f != "" {
		if _, err := webauth.ReadTokens(c.Path(f)); err != nil {
			p := meshwatch.Problem{Path: "http.api_token_file", Msg: err.Error()}
			if c.offline && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
				// A secret the machine does not have: validate and rules
				// do without it. One that is there and wrong stays an error.
				p.Warning, p.Msg = true, p.Msg+"; meshwatch run needs it"
			}
			ps = append(ps, p)
		}
	}
	return ps
}
