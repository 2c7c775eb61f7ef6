package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/internal/webauth"
)

// Environment variables of the API clients.
const (
	envAPIToken    = "MESHWATCH_API_TOKEN"    // a bearer token of http.api_token_file
	envAPIPassword = "MESHWATCH_API_PASSWORD" // the password of -user
)

// defaultAgentURL is where a client looks without -url or -config.
const defaultAgentURL = "http://127.0.0.1:9477"

// clientFlags say how a command reaches a running agent's API.
type clientFlags struct {
	url, config, user         string
	caFile, certFile, keyFile string
	serverName                string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "the agent's base URL (default: from -config, else "+defaultAgentURL+")")
	fs.StringVar(&f.config, "config", "", "the agent's config file: its http.listen, web configuration (https) and http.api_token_file")
	fs.StringVar(&f.user, "user", "", "a basic_auth_users user of the agent's web configuration; the password comes from "+envAPIPassword)
	fs.StringVar(&f.caFile, "tls.ca", "", "CA certificates (PEM) that sign the agent's certificate, when not a system CA")
	fs.StringVar(&f.certFile, "tls.cert", "", "client certificate (PEM), when the agent asks for one")
	fs.StringVar(&f.keyFile, "tls.key", "", "the client certificate's key (PEM)")
	fs.StringVar(&f.serverName, "tls.server-name", "", "the name to verify the agent's certificate against, when not the URL's host")
}

// apiConfig is what a client reads of the agent's config file: no more, so
// that it needs none of the agent's other secrets (Kafka, Slack).
type apiConfig struct {
	HTTP struct {
		Listen       string `yaml:"listen"`
		APITokenFile string `yaml:"api_token_file"`
	} `yaml:"http"`
	Web struct {
		ConfigFile string `yaml:"config_file"`
	} `yaml:"web"`
}

// client returns the silences client the flags and the environment
// describe.
func (f *clientFlags) client() (*alert.SilenceClient, error) {
	c := &alert.SilenceClient{BaseURL: f.url, Token: os.Getenv(envAPIToken)}
	if f.config != "" {
		b, err := os.ReadFile(f.config)
		if err != nil {
			return nil, fmt.Errorf("-config: %w", err)
		}
		var ac apiConfig
		if err := yaml.Unmarshal(b, &ac); err != nil {
			return nil, fmt.Errorf("-config %s: %w", f.config, err)
		}
		rel := func(p string) string {
			p = os.ExpandEnv(p)
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(filepath.Dir(f.config), p)
		}
		if c.BaseURL == "" {
			listen := os.ExpandEnv(ac.HTTP.Listen)
			if listen == "" {
				listen = ":9477"
			}
			c.BaseURL = agentURL(listen, rel(ac.Web.ConfigFile))
		}
		if c.Token == "" && ac.HTTP.APITokenFile != "" && f.user == "" {
			ts, err := webauth.ReadTokens(rel(ac.HTTP.APITokenFile))
			if err != nil {
				return nil, fmt.Errorf("-config %s: %w (or give a token in %s)", f.config, err, envAPIToken)
			}
			c.Token = ts[0].Value()
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = defaultAgentURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if f.user != "" {
		pw, ok := os.LookupEnv(envAPIPassword)
		if !ok {
			return nil, fmt.Errorf("-user %s: put the password in the environment variable %s", f.user, envAPIPassword)
		}
		// One Authorization header: the user's. With basic-auth users
		// in the web configuration every request needs one anyway.
		c.Username, c.Password, c.Token = f.user, pw, ""
	}
	tc, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	return c, nil
}

// tlsConfig is the client's TLS configuration, nil for the defaults.
func (f *clientFlags) tlsConfig() (*tls.Config, error) {
	if f.caFile == "" && f.certFile == "" && f.keyFile == "" && f.serverName == "" {
		return nil, nil
	}
	tc := &tls.Config{ServerName: f.serverName, MinVersion: tls.VersionTLS12}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("-tls.ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls.ca %s: no PEM certificate in it", f.caFile)
		}
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, errors.New("-tls.cert and -tls.key go together")
	}
	if f.certFile != "" {
		cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("-tls.cert/-tls.key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
