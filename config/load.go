package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
	"github.com/meshwatch/meshwatch/odcs"
)

// Bounds of the files Load reads (contracts have theirs in package odcs). A
// configuration is far smaller than maxConfigFile and a password or a token
// far smaller than maxSecretFile; the bounds keep a mistaken path to a huge
// file from exhausting memory.
const (
	maxConfigFile = 16 << 20
	maxSecretFile = 64 << 10
)

// LoadFile reads the configuration file at path and loads it as Load does,
// with the process environment. Relative *_file paths are relative to the
// directory of path. The file must be a regular file of at most 16 MiB: a
// named pipe, a device, a socket or a directory is an error, not read, so
// that a mistaken path neither blocks nor fills memory. The error is
// non-nil when the file cannot be read or the configuration has errors; see
// Load.
func LoadFile(path string) (*Config, meshwatch.Problems, error) {
	return LoadFileWith(path, Options{})
}

// Options change how a configuration is loaded. The zero value is what the
// agent needs.
type Options struct {
	// Offline loads a configuration for a command that never uses its
	// secrets (meshwatch validate, meshwatch rules): an unset environment
	// variable in a secret, or a *_file secret that cannot be read, is a
	// warning that meshwatch run will need it, not an error, so that a CI
	// pipeline can check a configuration without the production secrets.
	// Such a secret's value is then its reference as written, never to be
	// used.
	Offline bool
}

// LoadFileWith is LoadFile with options.
func LoadFileWith(path string, o Options) (*Config, meshwatch.Problems, error) {
	data, err := yamlconf.ReadFile(path, maxConfigFile, "a configuration is far smaller; is it the right file?")
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	return LoadWith(path, data, os.LookupEnv, o)
}

// Load parses, checks and completes a configuration. name is the file name
// shown in problems and the directory of relative *_file paths; env looks up
// environment variables (nil means that none is set).
//
// Load parses data as YAML; expands ${VAR} and ${VAR:-default} in every
// scalar value (not in keys; "$${" is a literal "${"); decodes it strictly,
// the model and every section, reporting unknown and duplicate keys and
// values of the wrong type; reads the secrets of sasl.password_file,
// sasl.token_file and their schema_registry: twins; reads the ODCS data
// contracts that contracts: lists (relative to the directory of name) and
// appends their products, and the teams they declare that owners: lacks;
// applies Config.SetDefaults and runs Config.Validate. A problem of a
// contract's product is placed in the contract file, with the path of the
// contract's value (slaProperties[1].value); Config.Position still takes
// config paths.
//
// Load goes on after a problem so as to report every problem at once, each
// with the position of its value in the file (or of the mapping that lacks
// it), sorted by file (the configuration first, then the contracts in the
// order they were read), line and column.
//
// Problems holds every problem, warnings included. The error is nil when
// none of them is an error; then Config is complete and valid. Otherwise
// Config is nil and the error is the Problems, errors and warnings, which
// print one per line as "file:line:col: path: msg". No problem shows the
// value of a secret: the value of a Secret field, of a *_file, or of an
// environment variable that is substituted into a Secret or whose name holds
// PASSWORD, SECRET, TOKEN, CREDENTIAL, PRIVATE or API_KEY.
//
// Load is safe for concurrent use; its only I/O is reading *_file secrets,
// contracts, and the files that secure the HTTP server (web.config_file,
// http.api_token_file), which it checks. Each secret and contract must be a
// regular file (a named pipe, a device, a socket or a directory is a
// problem, never opened for reading), a secret of at most 64 KiB and a
// contract of at most 4 MiB.
func Load(name string, data []byte, env func(string) (string, bool)) (*Config, meshwatch.Problems, error) {
	return LoadWith(name, data, env, Options{})
}

// LoadWith is Load with options.
func LoadWith(name string, data []byte, env func(string) (string, bool), o Options) (*Config, meshwatch.Problems, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, syntaxErr := yamlconf.Parse(name, data)
	if syntaxErr != nil {
		ps := meshwatch.Problems{*syntaxErr}
		return nil, ps, ps
	}

	d := yamlconf.NewDecoder(name, env)
	d.OptionalSecrets = o.Offline
	cfg := &Config{Config: &meshwatch.Config{}, Dir: filepath.Dir(name)}
	var f file
	root = cfg.sections(d, root)
	if root != nil {
		d.Decode(root, reflect.ValueOf(&f).Elem(), "")
	}
	f.fill(cfg)
	readSecretFiles(d, cfg, filepath.Dir(name), o.Offline)
	contracts := odcs.MergeWith(d, cfg.Config, filepath.Dir(name), odcs.MergeOptions{Brokers: cfg.Kafka.Brokers})

	ps := d.Problems
	var invalid meshwatch.Problems
	if !d.TooLarge {
		// A document cut short holds empty values that Validate would
		// report by the million.
		cfg.SetDefaults()
		cfg.positions = d.Pos
		cfg.offline = o.Offline
		invalid = cfg.Validate()
	}
	for _, p := range invalid {
		if d.Repeats(p.Path) || o.Offline && d.Unresolved[p.Path] && !p.Warning {
			continue // an unresolved secret: its warning says it all
		}
		p.Pos = d.Position(p.Path)
		p.Path = contracts.SourcePath(p.Path)
		ps = append(ps, p)
	}

	if s := cfg.Kafka.SASL; s != nil {
		d.Secrets = append(d.Secrets, string(s.Password), string(s.Token))
	}
	if r := cfg.SchemaRegistry; r != nil {
		d.Secrets = append(d.Secrets, string(r.Password), string(r.Token))
	}
	if p := cfg.Push; p != nil {
		d.Secrets = append(d.Secrets, string(p.Token))
	}
	if a := cfg.Alerting; a != nil {
		if a.Slack != nil {
			d.Secrets = append(d.Secrets, string(a.Slack.Token))
		}
		if a.Webhook != nil {
			d.Secrets = append(d.Secrets, string(a.Webhook.URL), string(a.Webhook.Secret))
		}
	}
	redact(ps, d.Secrets)
	slices.SortStableFunc(ps, func(a, b meshwatch.Problem) int {
		if fa, fb := contracts.Rank(a.Pos.File), contracts.Rank(b.Pos.File); fa != fb {
			return fa - fb
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	if err := ps.Err(); err != nil {
		return nil, ps, err
	}
	return cfg, ps, nil
}

// sections decodes the sections that are not keys of file (cost:,
// alerting:, web:, policies:) out of root into c, and returns root without
// them (a copy: the parsed tree is left as it was). An unknown top-level
// key lists the keys of file only, as it always has.
func (c *Config) sections(d *yamlconf.Decoder, root *yaml.Node) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return root
	}
	into := map[string]any{"cost": &c.Cost, "alerting": &c.Alerting, "web": &c.Web, "policies": &c.Policies}
	keep := *root
	keep.Content = nil
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		dst, ok := into[k.Value]
		if !ok {
			keep.Content = append(keep.Content, k, v)
			continue
		}
		d.Decode(v, reflect.ValueOf(dst).Elem(), k.Value)
	}
	return &keep
}

// readSecretFiles fills the SASL and schema registry passwords and tokens
// from their *_file keys.
func readSecretFiles(d *yamlconf.Decoder, cfg *Config, dir string, offline bool) {
	if s := cfg.Kafka.SASL; s != nil {
		readSecretFile(d, &s.Password, s.PasswordFile, "cluster.sasl.password", dir, offline)
		readSecretFile(d, &s.Token, s.TokenFile, "cluster.sasl.token", dir, offline)
	}
	if r := cfg.SchemaRegistry; r != nil {
		readSecretFile(d, &r.Password, r.PasswordFile, "schema_registry.password", dir, offline)
		readSecretFile(d, &r.Token, r.TokenFile, "schema_registry.token", dir, offline)
	}
}

// readSecretFile reads the secret of path from file into dst. Offline, a
// file that cannot be read is a warning and dst holds the file's name,
// never to be used.
func readSecretFile(d *yamlconf.Decoder, dst *meshwatch.Secret, file, path, dir string, offline bool) {
	if file == "" {
		return
	}
	filePath := path + "_file"
	if *dst != "" {
		d.FailPath(filePath, "cannot be set together with %s; set one of them", path[strings.LastIndexByte(path, '.')+1:])
		return
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	data, err := yamlconf.ReadFile(file, maxSecretFile, "a *_file holds the secret alone")
	if err != nil && offline {
		// The secret stays unset, and the checks of its value are
		// dropped (Unresolved): the warning says it all.
		d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.Position(filePath), Path: filePath, Warning: true,
			Msg: err.Error() + "; meshwatch run needs it"})
		d.Unresolved[path], d.Unresolved[filePath] = true, true
		return
	}
	if err != nil {
		d.FailPath(filePath, "%s", err.Error())
		return
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		d.FailPath(filePath, "file %s is empty", meshwatch.Quote(file))
		return
	}
	d.Secrets = append(d.Secrets, v)
	*dst = meshwatch.Secret(v)
}

// placeholder is what a Secret prints as.
var placeholder = meshwatch.Secret("x").String()

// redact replaces every secret value in the messages of ps by "<secret>".
func redact(ps meshwatch.Problems, secrets []string) {
	var rs []string
	for _, s := range secrets {
		if strings.TrimSpace(s) != "" && s != placeholder {
			rs = append(rs, s)
		}
	}
	if len(rs) == 0 {
		return
	}
	// Longest first, so that a secret holding another is replaced whole.
	slices.SortFunc(rs, func(a, b string) int { return len(b) - len(a) })
	for i := range ps {
		for _, s := range rs {
			ps[i].Msg = strings.ReplaceAll(ps[i].Msg, s, placeholder)
		}
	}
}
