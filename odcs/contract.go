package odcs

import (
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
)

// Limits of the contracts that Merge reads. A contract is larger than a
// secret, but not than a few megabytes.
const (
	maxContractFile  = 4 << 20
	maxContractFiles = 1000
)

// ODCS versions that Load reads: v3.0.x and v3.1.0, whose
// structures are the same but for team (an object since v3.1.0).
var odcsVersions = []string{"v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"}

// Contract custom properties that meshwatch reads from a contract's
// top-level customProperties.
const (
	// CustomTier is the product's tier, 1, 2 or 3 (default 2).
	CustomTier = "meshwatchTier"
	// CustomObjective is the objective of the SLOs whose objective the
	// contract does not give as a percentage (default 99%).
	CustomObjective = "meshwatchObjective"
	// CustomInputs are the products this one is made from (its
	// upstream, the product's inputs): a list of product names, or one
	// string of names separated by commas.
	CustomInputs = "meshwatchInputs"
)

// defaultContractObjective is the objective of an SLO that a contract asks
// for without a percentage: a latency of 1 s, say, or a rowCount lower bound.
const defaultContractObjective = "99%"

// ODCS documents, as far as meshwatch reads them. Every key of ODCS v3.1.0
// is declared, so that an unknown key, which ODCS does not allow either, is
// an error with a suggestion; keys that meshwatch does not use are
// odcsIgnored, which accepts any value.
type (
	odcsContract struct {
		Version                  string               `yaml:"version"`
		Kind                     string               `yaml:"kind"`
		APIVersion               string               `yaml:"apiVersion"`
		ID                       string               `yaml:"id"`
		Name                     string               `yaml:"name"`
		Tenant                   odcsIgnored          `yaml:"tenant"`
		Tags                     odcsIgnored          `yaml:"tags"`
		Status                   string               `yaml:"status"`
		Servers                  []odcsValue          `yaml:"servers"`
		DataProduct              string               `yaml:"dataProduct"`
		Description              odcsValue            `yaml:"description"`
		Domain                   string               `yaml:"domain"`
		Schema                   []odcsObject         `yaml:"schema"`
		Support                  []odcsSupport        `yaml:"support"`
		Price                    odcsIgnored          `yaml:"price"`
		Team                     odcsValue            `yaml:"team"`
		Roles                    odcsIgnored          `yaml:"roles"`
		SLADefaultElement        string               `yaml:"slaDefaultElement"`
		SLAProperties            []odcsSLA            `yaml:"slaProperties"`
		AuthoritativeDefinitions odcsIgnored          `yaml:"authoritativeDefinitions"`
		CustomProperties         []odcsCustomProperty `yaml:"customProperties"`
		ContractCreatedTs        odcsIgnored          `yaml:"contractCreatedTs"`
	}

	odcsTeam struct {
		ID                       odcsIgnored `yaml:"id"`
		Name                     string      `yaml:"name"`
		Description              odcsIgnored `yaml:"description"`
		Members                  odcsIgnored `yaml:"members"`
		Tags                     odcsIgnored `yaml:"tags"`
		CustomProperties         odcsIgnored `yaml:"customProperties"`
		AuthoritativeDefinitions odcsIgnored `yaml:"authoritativeDefinitions"`
	}

	odcsSupport struct {
		ID               odcsIgnored `yaml:"id"`
		Channel          string      `yaml:"channel"`
		URL              odcsIgnored `yaml:"url"`
		Description      odcsIgnored `yaml:"description"`
		Tool             string      `yaml:"tool"`
		Scope            string      `yaml:"scope"`
		InvitationURL    odcsIgnored `yaml:"invitationUrl"`
		CustomProperties odcsIgnored `yaml:"customProperties"`
	}

	// odcsObject is a SchemaObject: a table, a view or, for meshwatch, a
	// topic.
	odcsObject struct {
		ID                         odcsIgnored    `yaml:"id"`
		Name                       string         `yaml:"name"`
		PhysicalType               string         `yaml:"physicalType"`
		Description                odcsIgnored    `yaml:"description"`
		BusinessName               odcsIgnored    `yaml:"businessName"`
		AuthoritativeDefinitions   odcsIgnored    `yaml:"authoritativeDefinitions"`
		Tags                       odcsIgnored    `yaml:"tags"`
		CustomProperties           odcsIgnored    `yaml:"customProperties"`
		LogicalType                odcsIgnored    `yaml:"logicalType"`
		PhysicalName               string         `yaml:"physicalName"`
		DataGranularityDescription odcsIgnored    `yaml:"dataGranularityDescription"`
		Properties                 []odcsProperty `yaml:"properties"`
		Relationships              odcsIgnored    `yaml:"relationships"`
		Quality                    []odcsQuality  `yaml:"quality"`
	}

	// odcsProperty is a SchemaProperty, or the items of an array property.
	odcsProperty struct {
		ID                       odcsIgnored   `yaml:"id"`
		Name                     string        `yaml:"name"`
		PhysicalType             odcsIgnored   `yaml:"physicalType"`
		Description              odcsIgnored   `yaml:"description"`
		BusinessName             odcsIgnored   `yaml:"businessName"`
		AuthoritativeDefinitions odcsIgnored   `yaml:"authoritativeDefinitions"`
		Tags                     odcsValue     `yaml:"tags"` // read for pii
		CustomProperties         odcsIgnored   `yaml:"customProperties"`
		PrimaryKey               bool          `yaml:"primaryKey"`
		PrimaryKeyPosition       odcsIgnored   `yaml:"primaryKeyPosition"`
		LogicalType              odcsIgnored   `yaml:"logicalType"`
		LogicalTypeOptions       odcsValue     `yaml:"logicalTypeOptions"`
		PhysicalName             string        `yaml:"physicalName"`
		Required                 bool          `yaml:"required"`
		Unique                   bool          `yaml:"unique"`
		Partitioned              odcsIgnored   `yaml:"partitioned"`
		PartitionKeyPosition     odcsIgnored   `yaml:"partitionKeyPosition"`
		Classification           odcsValue     `yaml:"classification"` // read for pii
		EncryptedName            odcsIgnored   `yaml:"encryptedName"`
		TransformSourceObjects   odcsIgnored   `yaml:"transformSourceObjects"`
		TransformLogic           odcsIgnored   `yaml:"transformLogic"`
		TransformDescription     odcsIgnored   `yaml:"transformDescription"`
		Examples                 odcsIgnored   `yaml:"examples"`
		CriticalDataElement      odcsIgnored   `yaml:"criticalDataElement"`
		Relationships            odcsIgnored   `yaml:"relationships"`
		Quality                  []odcsQuality `yaml:"quality"`
		// Properties and Items are decoded by nest, which bounds their
		// depth: an alias can make them a cycle.
		PropertiesNode odcsValue `yaml:"properties"`
		ItemsNode      odcsValue `yaml:"items"`

		Properties []odcsProperty `yaml:"-"`
		Items      *odcsProperty  `yaml:"-"`
	}

	// odcsQuality is a DataQuality check of any type.
	odcsQuality struct {
		ID                       string      `yaml:"id"`
		Name                     string      `yaml:"name"`
		Description              odcsIgnored `yaml:"description"`
		Type                     string      `yaml:"type"`
		Metric                   string      `yaml:"metric"`
		Rule                     string      `yaml:"rule"` // deprecated name of metric
		Arguments                odcsValue   `yaml:"arguments"`
		MustBe                   odcsValue   `yaml:"mustBe"`
		MustNotBe                odcsValue   `yaml:"mustNotBe"`
		MustBeGreaterThan        *float64    `yaml:"mustBeGreaterThan"`
		MustBeGreaterOrEqualTo   *float64    `yaml:"mustBeGreaterOrEqualTo"`
		MustBeLessThan           *float64    `yaml:"mustBeLessThan"`
		MustBeLessOrEqualTo      *float64    `yaml:"mustBeLessOrEqualTo"`
		MustBeBetween            []float64   `yaml:"mustBeBetween"`
		MustNotBeBetween         []float64   `yaml:"mustNotBeBetween"`
		Unit                     string      `yaml:"unit"`
		Query                    odcsIgnored `yaml:"query"`
		Engine                   string      `yaml:"engine"`
		Implementation           odcsValue   `yaml:"implementation"`
		Dimension                odcsIgnored `yaml:"dimension"`
		Method                   odcsIgnored `yaml:"method"`
		Severity                 odcsIgnored `yaml:"severity"`
		BusinessImpact           odcsIgnored `yaml:"businessImpact"`
		Schedule                 odcsIgnored `yaml:"schedule"`
		Scheduler                odcsIgnored `yaml:"scheduler"`
		Tags                     odcsIgnored `yaml:"tags"`
		CustomProperties         odcsIgnored `yaml:"customProperties"`
		AuthoritativeDefinitions odcsIgnored `yaml:"authoritativeDefinitions"`
	}

	odcsSLA struct {
		ID          odcsIgnored `yaml:"id"`
		Property    string      `yaml:"property"`
		Value       odcsValue   `yaml:"value"`
		ValueExt    odcsValue   `yaml:"valueExt"`
		Unit        string      `yaml:"unit"`
		Element     string      `yaml:"element"`
		Driver      odcsIgnored `yaml:"driver"`
		Description odcsIgnored `yaml:"description"`
		Scheduler   odcsIgnored `yaml:"scheduler"`
		Schedule    odcsIgnored `yaml:"schedule"`
	}

	odcsCustomProperty struct {
		ID          odcsIgnored `yaml:"id"`
		Property    string      `yaml:"property"`
		Value       odcsValue   `yaml:"value"`
		Description odcsIgnored `yaml:"description"`
	}
)

// odcsIgnored is an ODCS value that meshwatch does not use: any value is
// accepted.
type odcsIgnored struct{}

// UnmarshalYAML accepts any value.
func (*odcsIgnored) UnmarshalYAML(*yaml.Node) error { return nil }

// odcsValue is an ODCS value of more than one shape (a string or an object,
// a number or a string...), kept as its node for the mapping to read.
type odcsValue struct{ n *yaml.Node }

// UnmarshalYAML keeps n.
func (v *odcsValue) UnmarshalYAML(n *yaml.Node) error {
	v.n = n
	return nil
}

func (v odcsValue) set() bool { return v.n != nil && !yamlconf.IsNull(v.n) }

// mapValue returns the value of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Sources is what Merge keeps of the contracts it read: where the settings
// of the products and owners they made come from.
type Sources struct {
	// source maps a config path (products[3].slos[0].objective) to the path
	// in its contract (slaProperties[1].value).
	source map[string]string
	// files ranks the files of the problems: config.yaml first, then the
	// contracts in the order they were read.
	files map[string]int
}

// SourcePath translates a config path of a product or owner made from a
// contract into the path of the contract value it comes from, by its
// nearest ancestor that has one; other paths are returned as they are.
func (s *Sources) SourcePath(path string) string {
	for p := path; p != ""; p = meshwatch.ParentPath(p) {
		if src, ok := s.source[p]; ok {
			return src
		}
	}
	return path
}

// Rank orders the files of problems: 0 for the configuration file, then
// 1, 2... for the contracts in the order they were read.
func (s *Sources) Rank(file string) int { return s.files[file] }

// Merge reads the contracts that cfg.Contracts names, relative to dir, and
// appends their products (and the owners they declare) to cfg, as the
// loader (package config) does after decoding cfg with d and before it
// applies defaults and validates. Problems go to d, placed in the contract
// files, and d records the position of every setting the contracts made,
// so that Config.Position places it in its contract. Problems of Validate
// are then translated into contract paths with Sources.SourcePath.
//
// Merge does not know the cluster's brokers, which are the loader's: it
// is MergeWith without options.
func Merge(d *yamlconf.Decoder, cfg *meshwatch.Config, dir string) *Sources {
	return MergeWith(d, cfg, dir, MergeOptions{})
}

// MergeOptions are what Merge knows of the configuration beyond the model.
type MergeOptions struct {
	// Brokers are the cluster's brokers (cluster.brokers, host:port). A
	// contract's kafka server whose host is none of them is reported, at
	// the contract's servers[i].host, as a warning; none compares nothing.
	Brokers []string
}

// MergeWith is Merge, with what the loader knows of the cluster.
func MergeWith(d *yamlconf.Decoder, cfg *meshwatch.Config, dir string, opts MergeOptions) *Sources {
	set := &Sources{source: make(map[string]string), files: map[string]int{d.File: 0}}
	var files []string
	from := make(map[string]int)
	for i, entry := range cfg.Contracts {
		path := meshwatch.IndexPath("contracts", i)
		if strings.TrimSpace(entry) == "" {
			d.FailPath(path, "must be a contract file or a directory of them, got %s", meshwatch.Quote(entry))
			continue
		}
		name := entry
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		found, err := contractFiles(name)
		if err != nil {
			d.FailPath(path, "%s", err.Error())
			continue
		}
		if len(found) == 0 {
			d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.Position(path), Path: path,
				Msg: fmt.Sprintf("directory %s holds no *.yaml or *.yml file", meshwatch.Quote(name)), Warning: true})
		}
		for _, f := range found {
			if first, dup := from[f]; dup {
				if first != i {
					d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.Position(path), Path: path,
						Msg: fmt.Sprintf("%s is read once, already by contracts[%d]", meshwatch.Quote(f), first), Warning: true})
				}
				continue
			}
			from[f] = i
			files = append(files, f)
		}
	}
	if len(files) > maxContractFiles {
		d.FailPath("contracts", "name %d contract files, more than %d", len(files), maxContractFiles)
		return set
	}
	for _, f := range files {
		set.files[f] = len(set.files)
		data, err := readContractFile(f)
		if err != nil {
			d.FailPath(meshwatch.IndexPath("contracts", from[f]), "%s", err.Error())
			continue
		}
		c, ps := Load(f, data)
		d.Problems = append(d.Problems, ps...)
		if c != nil {
			c.merge(d, cfg, set)
			d.Problems = append(d.Problems, c.CheckServers(opts.Brokers)...)
		}
	}
	for _, team := range slices.Sorted(maps.Keys(cfg.Owners)) {
		if o := cfg.Owners[team]; o.Contract != "" && o.SlackChannel == "" {
			path := meshwatch.JoinPath("owners", team)
			d.Problems = append(d.Problems, meshwatch.Problem{Pos: d.Position(path), Path: set.SourcePath(path), Warning: true,
				Msg: fmt.Sprintf("team %s is not declared under owners and no contract of it has a support channel with tool slack: its alerts go to the default channel", meshwatch.Quote(team))})
		}
	}
	return set
}

// contractFiles returns name if it is a file, or the *.yaml and *.yml
// files under it, sorted, if it is a directory. Directories whose name
// starts with "." are skipped.
func contractFiles(name string) ([]string, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), yamlconf.PathErr(err))
	}
	if !st.IsDir() {
		return []string{filepath.Clean(name)}, nil
	}
	var files []string
	err = filepath.WalkDir(name, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != name && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Clean(path))
			if len(files) > maxContractFiles {
				return fmt.Errorf("more than %d files", maxContractFiles)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", meshwatch.Quote(name), yamlconf.PathErr(err))
	}
	slices.Sort(files)
	return files, nil
}

// readContractFile reads a regular file of at most maxContractFile bytes.
func readContractFile(name string) ([]byte, error) {
	return yamlconf.ReadFile(name, maxContractFile, "a data contract is far smaller; is it the right file?")
}

// Contract is a product read from an ODCS data contract, before it joins a
// Config: Load makes it, Merge appends its Product to the configuration.
type Contract struct {
	// File is the contract's file name, as given to Load.
	File string
	// Product is the product the contract declares, with Contract set to
	// File and the Source of its rules set. Defaults are not applied.
	Product meshwatch.Product
	// Team is the contract's team.name: the product's owner.
	Team string
	// SlackChannel is the channel of the contract's support entry with tool
	// slack, "" if it has none. It becomes the owner's channel.
	SlackChannel string

	// servers are the contract's kafka servers, for Merge to compare
	// with the cluster's brokers.
	servers []kafkaServer

	pos    map[string]meshwatch.Position // ODCS path → position
	failed map[string]bool               // ODCS paths whose value did not decode
	links  map[string]string             // product-relative config path → ODCS path
	// teamPath and channelPath are the ODCS paths of Team and SlackChannel.
	teamPath, channelPath string
}

// Load reads an ODCS v3 data contract (apiVersion v3.0.0 to
// v3.1.0, kind DataContract), or a contract in the simple form (a mapping
// contract: without kind, see the package documentation), as a meshwatch
// product. file names the contract in problems. It does no I/O.
//
// The contract is decoded strictly: a key that ODCS v3.1.0 does not define
// is an error, as ODCS itself allows no other key; keys that ODCS defines
// and meshwatch does not use are accepted whatever their value. ${VAR} is
// not expanded in a contract. The mapping to a Product is described in the
// package documentation; everything the contract promises that meshwatch
// cannot monitor on a stream is reported as a warning that starts with
// "unsupported:", at its file, line and column.
//
// The Contract is nil when the file is not a data contract at all
// (not YAML, another kind or version); otherwise it is returned even with
// errors, so that the loader can report every problem. Problems of the
// product that only Config.Validate finds (a bad topic name, say) are not
// in the returned Problems; the loader (package config) reports them,
// placed in the contract.
func Load(file string, data []byte) (*Contract, meshwatch.Problems) {
	root, syntaxErr := yamlconf.Parse(file, data)
	if syntaxErr != nil {
		syntaxErr.Msg = strings.Replace(syntaxErr.Msg, "the config must be a single document", "a contract must be a single document", 1)
		return nil, meshwatch.Problems{*syntaxErr}
	}
	if root == nil {
		return nil, meshwatch.Problems{{Pos: meshwatch.Position{File: file, Line: 1}, Msg: "is empty: want an ODCS data contract (kind: DataContract) or a simple contract (contract: {name, owner...})"}}
	}
	at := func(n *yaml.Node) meshwatch.Position {
		return meshwatch.Position{File: file, Line: n.Line, Col: n.Column}
	}
	if root.Kind != yaml.MappingNode {
		return nil, meshwatch.Problems{{Pos: at(root), Msg: fmt.Sprintf("must be an ODCS data contract, a mapping with kind: DataContract; got %s", yamlconf.Describe(root))}}
	}
	kind := mapValue(root, "kind")
	if kind == nil && mapValue(root, "apiVersion") == nil && mapValue(root, simpleKey) != nil {
		return loadSimple(file, data, root)
	}
	if kind == nil || kind.Kind != yaml.ScalarNode || kind.Value != "DataContract" {
		got := "no kind"
		pos := at(root)
		if kind != nil {
			got, pos = "kind "+yamlconf.Describe(kind), at(kind)
		}
		return nil, meshwatch.Problems{{Pos: pos, Path: "kind", Msg: fmt.Sprintf("must be DataContract: the file must be an ODCS data contract, or a simple contract (a mapping with contract: {name, owner, sla, quality...}); got %s", got)}}
	}
	api := mapValue(root, "apiVersion")
	if api == nil || api.Kind != yaml.ScalarNode || !slices.Contains(odcsVersions, api.Value) {
		got, pos := "nothing", at(root)
		if api != nil {
			got, pos = yamlconf.Describe(api), at(api)
		}
		return nil, meshwatch.Problems{{Pos: pos, Path: "apiVersion", Msg: fmt.Sprintf("must be one of %s (ODCS v3); got %s", strings.Join(odcsVersions, ", "), got)}}
	}

	d := yamlconf.NewDecoder(file, nil)
	d.Literal = true
	var doc odcsContract
	d.Decode(root, reflect.ValueOf(&doc).Elem(), "")
	for i := range doc.Schema {
		src := meshwatch.IndexPath("schema", i)
		for j := range doc.Schema[i].Properties {
			nest(d, &doc.Schema[i].Properties[j], meshwatch.IndexPath(meshwatch.JoinPath(src, "properties"), j), 1)
		}
	}
	if d.TooLarge {
		return nil, d.Problems
	}
	c := &Contract{File: file, links: make(map[string]string)}
	m := &contractMapper{d: d, root: root, doc: &doc, c: c, p: &c.Product}
	m.build()
	c.pos, c.failed = d.Pos, d.Failed
	return c, d.Problems
}

// maxPropertyDepth bounds the nesting of properties: records are not
// nested deeper, and an alias can make the properties a cycle.
const maxPropertyDepth = 32

// nest decodes the nested properties and the items of p, at path and
// depth, and theirs.
func nest(d *yamlconf.Decoder, p *odcsProperty, path string, depth int) {
	for _, n := range []struct {
		v    odcsValue
		key  string
		list bool
	}{{p.PropertiesNode, "properties", true}, {p.ItemsNode, "items", false}} {
		if !n.v.set() || d.TooLarge {
			continue
		}
		np := meshwatch.JoinPath(path, n.key)
		if depth >= maxPropertyDepth {
			d.Fail(n.v.n, np, "nests properties deeper than %d levels", maxPropertyDepth)
			continue
		}
		if n.list {
			d.Decode(n.v.n, reflect.ValueOf(&p.Properties).Elem(), np)
			for i := range p.Properties {
				nest(d, &p.Properties[i], meshwatch.IndexPath(np, i), depth+1)
			}
		} else {
			d.Decode(n.v.n, reflect.ValueOf(&p.Items).Elem(), np)
			if p.Items != nil {
				nest(d, p.Items, np, depth+1)
			}
		}
	}
}

// merge appends the contract's product to cfg, and its team to the owners
// when config.yaml does not declare it; it records in d where each setting
// comes from.
func (c *Contract) merge(d *yamlconf.Decoder, cfg *meshwatch.Config, set *Sources) {
	base := meshwatch.IndexPath("products", len(cfg.Products))
	position := func(src string) meshwatch.Position {
		for {
			if pos, ok := c.pos[src]; ok {
				return pos
			}
			if src == "" {
				return meshwatch.Position{File: c.File}
			}
			src = meshwatch.ParentPath(src)
		}
	}
	failed := func(src string) bool {
		for {
			if c.failed[src] {
				return true
			}
			if src == "" {
				return false
			}
			src = meshwatch.ParentPath(src)
		}
	}
	link := func(cfgPath, src string) {
		d.Pos[cfgPath] = position(src)
		set.source[cfgPath] = src
		if failed(src) {
			d.Failed[cfgPath] = true
		}
	}
	link(base, "")
	for rel, src := range c.links {
		link(base+rel, src)
	}
	cfg.Products = append(cfg.Products, c.Product)

	if c.Team == "" {
		return
	}
	warn := func(src, format string, args ...any) {
		d.Problems = append(d.Problems, meshwatch.Problem{Pos: position(src), Path: src, Msg: fmt.Sprintf(format, args...), Warning: true})
	}
	o, declared := cfg.Owners[c.Team]
	switch {
	case declared && o.Contract == "":
		// config.yaml declares the team: its settings win.
		switch {
		case o.SlackChannel == "" && c.SlackChannel != "":
			o.SlackChannel = c.SlackChannel
			cfg.Owners[c.Team] = o
		case c.SlackChannel != "" && o.SlackChannel != c.SlackChannel:
			warn(c.channelPath, "team %s has slack_channel %s in the configuration, which is used instead of %s",
				meshwatch.Quote(c.Team), meshwatch.Quote(o.SlackChannel), meshwatch.Quote(c.SlackChannel))
		}
		return
	case declared:
		// Another contract made the owner already.
		if o.SlackChannel == "" {
			o.SlackChannel = c.SlackChannel
			cfg.Owners[c.Team] = o
			if c.channelPath != "" {
				link(meshwatch.JoinPath(meshwatch.JoinPath("owners", c.Team), "slack_channel"), c.channelPath)
			}
		} else if c.SlackChannel != "" && o.SlackChannel != c.SlackChannel {
			warn(c.channelPath, "team %s has Slack channel %s in contract %s, which is used instead of %s",
				meshwatch.Quote(c.Team), meshwatch.Quote(o.SlackChannel), o.Contract, meshwatch.Quote(c.SlackChannel))
		}
		return
	}
	if s := meshwatch.Closest(c.Team, slices.Sorted(maps.Keys(cfg.Owners))); s != "" {
		warn(c.teamPath, "team %s is not declared under owners (did you mean %s?); it becomes a new owner", meshwatch.Quote(c.Team), meshwatch.Quote(s))
	}
	if cfg.Owners == nil {
		cfg.Owners = make(map[string]meshwatch.Owner)
	}
	cfg.Owners[c.Team] = meshwatch.Owner{SlackChannel: c.SlackChannel, Contract: c.File}
	op := meshwatch.JoinPath("owners", c.Team)
	link(op, c.teamPath)
	if c.channelPath != "" {
		link(meshwatch.JoinPath(op, "slack_channel"), c.channelPath)
	}
}

// sloDraft is an SLO being gathered from the parts of a contract.
type sloDraft struct {
	src           string // the first part of the contract that asked for it
	threshold     meshwatch.Duration
	thresholdSrc  string
	objective     float64 // percent, 0 when none is given
	objectiveSrc  string
	objectiveText string
}

// contractMapper turns a decoded contract into a Product.
type contractMapper struct {
	d    *yamlconf.Decoder
	root *yaml.Node
	doc  *odcsContract
	c    *Contract
	p    *meshwatch.Product

	slos      map[string]*sloDraft
	objective meshwatch.Percent // default objective
	objSrc    string
	// rules are the rules added, named by finishRules; ruleExprs maps
	// each expression to the part of the contract that gave it first.
	rules      []pendingRule
	ruleExprs  map[string]string
	eventField string // ODCS path of the element that set the event time
	// props maps each topic object's property paths, by name and by
	// physical name, to the field path in the records.
	props      map[string]string
	checkedObj int // topic objects that hold checks
	keys       []keyField

	// What reportIgnored needs to know of the parts read: the checks
	// whose id or name names a rule, the parts reported as a whole
	// (unsupported), the key of description used, the support entry and
	// the server read.
	// simple is the contract in the simple form, and data its file;
	// nil for an ODCS contract.
	simple *simpleFile
	data   []byte

	idUsed, nameUsed map[string]bool
	reported         map[string]bool
	descKey          string
	walked           map[*yaml.Node]bool // mappings reportIgnored has walked
	supportUsed      int
	formatServer     int
	// ignored collects the ignored: warnings of reportIgnored by message.
	ignored      map[string]*ignoredPlace
	ignoredOrder []string
}

// keyField is a property of the primary key of a topic object.
type keyField struct{ field, src string }

// pendingRule is a rule of the product waiting for its name: ids first,
// then names, then the names made of the checked field.
type pendingRule struct {
	k                  int // index in Quality.Rules
	src, id, name, def string
}

func (m *contractMapper) link(rel, src string) { m.c.links[rel] = src }

func (m *contractMapper) errf(src, format string, args ...any) {
	m.d.Problems = append(m.d.Problems, meshwatch.Problem{Pos: m.d.Position(src), Path: src, Msg: fmt.Sprintf(format, args...)})
	m.d.Failed[src] = true
}

func (m *contractMapper) warnf(src, format string, args ...any) {
	m.d.Problems = append(m.d.Problems, meshwatch.Problem{Pos: m.d.Position(src), Path: src, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// unsupported reports a part of the contract that meshwatch cannot
// monitor.
func (m *contractMapper) unsupported(src, format string, args ...any) {
	m.warnf(src, "unsupported: "+format, args...)
	m.reported[src] = true
}

func (m *contractMapper) build() {
	doc, p := m.doc, m.p
	p.Contract = m.c.File
	m.init()
	for _, key := range []string{"id", "version", "status"} {
		if mapValue(m.root, key) == nil {
			m.warnf(key, "is required by ODCS")
		}
	}

	switch {
	case doc.Name != "":
		p.Name = doc.Name
		m.link(".name", "name")
	case doc.DataProduct != "":
		p.Name = doc.DataProduct
		m.link(".name", "dataProduct")
	default:
		m.errf("name", "is required (or dataProduct): the product's name, e.g. checkout.orders.placed")
		m.link(".name", "name")
	}
	p.Domain = doc.Domain
	m.link(".domain", "domain")
	p.Version = strings.TrimSpace(doc.Version)
	m.link(".version", "version")
	m.description()
	m.team()
	m.support()
	m.customProperties()
	m.servers()
	m.schema()
	m.slaProperties()
	m.finishRules()
	m.finishSLOs()
	m.reportIgnored()
}

func (m *contractMapper) init() {
	m.slos = make(map[string]*sloDraft)
	m.ruleExprs = make(map[string]string)
	m.props = make(map[string]string)
	m.idUsed = make(map[string]bool)
	m.nameUsed = make(map[string]bool)
	m.reported = make(map[string]bool)
	m.supportUsed, m.formatServer = -1, -1
}

func (m *contractMapper) description() {
	n := resolve(m.doc.Description.n)
	m.link(".description", "description")
	switch {
	case n == nil || yamlconf.IsNull(n):
	case n.Kind == yaml.ScalarNode:
		m.p.Description = n.Value // ODCS v2 wrote a plain string
	case n.Kind == yaml.MappingNode:
		for _, key := range []string{"purpose", "usage", "limitations"} {
			if v := mapValue(n, key); v != nil && v.Kind == yaml.ScalarNode && !yamlconf.IsNull(v) {
				m.p.Description = v.Value
				m.link(".description", "description."+key)
				m.descKey = key
				return
			}
		}
	default:
		m.errf("description", "must be a mapping with purpose, usage or limitations; got %s", yamlconf.Describe(n))
	}
}

// team reads team.name, the product's owner. ODCS v3.0 wrote team as a
// list of members, which names no team.
func (m *contractMapper) team() {
	n := resolve(m.doc.Team.n)
	m.link(".owner", "team")
	switch {
	case n == nil || yamlconf.IsNull(n):
		m.errf("team", "is required: {name: <team>}, the team that owns the product (a key of owners, or a new owner)")
	case n.Kind == yaml.SequenceNode:
		m.errf("team", "is a list of members (ODCS v3.0), which names no team; write team: {name: <team>, members: [...]} (ODCS v3.1)")
	case n.Kind == yaml.MappingNode:
		var t odcsTeam
		m.d.Decode(n, reflect.ValueOf(&t).Elem(), "team")
		if t.Name == "" {
			m.errf("team", "team.name is required: the team that owns the product (a key of owners, or a new owner)")
			return
		}
		m.p.Owner, m.c.Team, m.c.teamPath = t.Name, t.Name, "team.name"
		m.link(".owner", "team.name")
	default:
		m.errf("team", "must be a mapping like {name: orders-team}; got %s", yamlconf.Describe(n))
	}
}

// supportScopes ranks the scopes of a Slack support channel for alerts:
// automated notifications first.
var supportScopes = []string{"notifications", "issues", "", "interactive", "announcements"}

// support picks the Slack channel of the owner.
func (m *contractMapper) support() {
	best, rank := -1, len(supportScopes)
	for i, s := range m.doc.Support {
		if !strings.EqualFold(s.Tool, "slack") || s.Channel == "" {
			continue
		}
		r := slices.Index(supportScopes, strings.ToLower(s.Scope))
		if r < 0 {
			r = len(supportScopes) - 1
		}
		if r < rank {
			best, rank = i, r
		}
	}
	if best < 0 {
		return
	}
	ch := strings.TrimSpace(m.doc.Support[best].Channel)
	if !strings.HasPrefix(ch, "#") && !meshwatch.IsSlackChannel(ch) {
		ch = "#" + ch // ODCS channels are often written without the #
	}
	m.c.SlackChannel = ch
	m.c.channelPath = meshwatch.JoinPath(meshwatch.IndexPath("support", best), "channel")
	m.supportUsed = best
}

func (m *contractMapper) customProperties() {
	m.objective, _ = meshwatch.ParsePercent(defaultContractObjective)
	for i, cp := range m.doc.CustomProperties {
		src := meshwatch.IndexPath("customProperties", i)
		if !strings.HasPrefix(cp.Property, "meshwatch") {
			continue
		}
		vsrc := meshwatch.JoinPath(src, "value")
		v := resolve(cp.Value.n)
		if cp.Property == CustomInputs {
			m.inputs(vsrc, v)
			continue
		}
		if v == nil || v.Kind != yaml.ScalarNode {
			m.errf(vsrc, "must be a single value; got %s", yamlconf.Describe(v))
			continue
		}
		switch cp.Property {
		case CustomTier:
			t, err := strconv.Atoi(v.Value)
			if err != nil {
				m.errf(vsrc, "must be 1, 2 or 3 (1 pages, 2 business hours, 3 best effort), got %s", meshwatch.Quote(v.Value))
				continue
			}
			m.p.Tier = t
			m.link(".tier", vsrc)
		case CustomObjective:
			o, err := meshwatch.ParsePercent(v.Value)
			if err != nil || !(o > 0 && o < 1) {
				m.errf(vsrc, `must be a percentage above 0%% and below 100%% like "99.9%%", got %s`, meshwatch.Quote(v.Value))
				continue
			}
			m.objective, m.objSrc = o, vsrc
		default:
			known := []string{CustomTier, CustomObjective, CustomInputs}
			m.warnf(meshwatch.JoinPath(src, "property"), "unknown meshwatch property %s%s, ignored; known: %s",
				meshwatch.Quote(cp.Property), meshwatch.DidYouMean(cp.Property, known), strings.Join(known, ", "))
		}
	}
}

// inputs reads meshwatchInputs: a list of product names, or one string
// of names separated by commas.
func (m *contractMapper) inputs(vsrc string, v *yaml.Node) {
	var names []string
	switch {
	case v != nil && v.Kind == yaml.SequenceNode:
		for i, e := range v.Content {
			if e = resolve(e); e == nil || e.Kind != yaml.ScalarNode {
				m.errf(meshwatch.IndexPath(vsrc, i), "must be a product name; got %s", yamlconf.Describe(e))
				continue
			}
			names = append(names, e.Value)
		}
	case v != nil && v.Kind == yaml.ScalarNode:
		for n := range strings.SplitSeq(v.Value, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	default:
		m.errf(vsrc, "must be a list of the product names this one is made from; got %s", yamlconf.Describe(v))
		return
	}
	m.p.Inputs = append(m.p.Inputs, names...)
	m.link(".inputs", vsrc)
}

// servers reads the record format from the first server of type kafka
// (ODCS default json); without one, json. It keeps the host and port of
// every kafka server, which Merge compares with the cluster's brokers.
func (m *contractMapper) servers() {
	m.p.Format = meshwatch.FormatJSON
	for i, s := range m.doc.Servers {
		n := resolve(s.n)
		src := meshwatch.IndexPath("servers", i)
		if n == nil || n.Kind != yaml.MappingNode {
			m.errf(src, "must be a mapping with server and type; got %s", yamlconf.Describe(n))
			continue
		}
		if t := mapValue(n, "type"); t == nil || !strings.EqualFold(t.Value, "kafka") {
			continue
		}
		m.kafkaServer(src, n)
		if m.formatServer >= 0 {
			continue
		}
		m.formatServer = i
		m.link(".format", src)
		f := mapValue(n, "format")
		if f == nil || yamlconf.IsNull(f) {
			continue
		}
		fsrc := meshwatch.JoinPath(src, "format")
		m.link(".format", fsrc)
		switch v := strings.ToLower(f.Value); v {
		case meshwatch.FormatJSON, meshwatch.FormatAvro, meshwatch.FormatProtobuf:
			m.p.Format = v
		default:
			m.unsupported(fsrc, "format %s cannot be decoded (json, avro or protobuf); records are read raw and their checks cannot run", meshwatch.Quote(f.Value))
			m.p.Format = meshwatch.FormatRaw
		}
	}
}

// kafkaServer keeps the brokers of the kafka server n at src: its host, a
// list "host:port,host:port" or one host with port in port.
func (m *contractMapper) kafkaServer(src string, n *yaml.Node) {
	h := mapValue(n, "host")
	if h == nil || h.Kind != yaml.ScalarNode || strings.TrimSpace(h.Value) == "" {
		return
	}
	port := ""
	if p := mapValue(n, "port"); p != nil && p.Kind == yaml.ScalarNode {
		port = strings.TrimSpace(p.Value)
	}
	m.d.Pos[meshwatch.JoinPath(src, "host")] = m.d.At(h)
	ks := kafkaServer{path: src, host: h.Value}
	for _, b := range strings.FieldsFunc(h.Value, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if i := strings.Index(b, "://"); i >= 0 {
			b = b[i+3:] // SASL_SSL://kafka:9092
		}
		host, p, err := net.SplitHostPort(b)
		if err != nil {
			host, p = strings.Trim(b, "[]"), port
		}
		ks.brokers = append(ks.brokers, endpoint{host: strings.ToLower(host), port: p})
	}
	m.c.servers = append(m.c.servers, ks)
}

// schema reads the topic objects: their physical names are the product's
// topics, and their properties and checks its quality.
func (m *contractMapper) schema() {
	m.link(".topics", "schema")
	m.link(".quality", "schema")
	// Names first, so that a check can find an SLA element and vice versa.
	for _, o := range m.doc.Schema {
		if strings.EqualFold(o.PhysicalType, "topic") {
			m.index(o.Name, o.PhysicalName, o.Properties, nil, nil)
		}
	}
	for i, o := range m.doc.Schema {
		src := meshwatch.IndexPath("schema", i)
		checks := countChecks(o)
		if !strings.EqualFold(o.PhysicalType, "topic") {
			what := "no physicalType"
			if o.PhysicalType != "" {
				what = "physicalType " + meshwatch.Quote(o.PhysicalType)
			}
			m.unsupported(src, "%s: only objects with physicalType: topic are monitored; %d checks of this object are not evaluated", what, checks)
			continue
		}
		name, nsrc := o.PhysicalName, meshwatch.JoinPath(src, "physicalName")
		if name == "" {
			name, nsrc = o.Name, meshwatch.JoinPath(src, "name")
		}
		k := len(m.p.Topics)
		m.p.Topics = append(m.p.Topics, meshwatch.TopicSelector{Name: name})
		m.link(meshwatch.IndexPath(".topics", k), nsrc)
		if checks > 0 {
			m.checkedObj++
			if m.checkedObj == 2 {
				m.warnf(src, "the checks of every topic object apply to the records of all the product's topics")
			}
		}
		m.keys = m.keys[:0]
		m.properties(src, o.Properties, nil, true)
		if len(m.keys) > 0 {
			var fields []string
			for _, k := range m.keys {
				fields = append(fields, k.field)
				m.reported[k.src] = true
			}
			m.unsupported(m.keys[0].src, "primaryKey %s is not checked for duplicates: meshwatch detects duplicates only by producer sequence numbers (quality.sequence in the configuration), not by key", strings.Join(fields, ", "))
		}
		for j := range o.Quality {
			m.objectCheck(meshwatch.IndexPath(meshwatch.JoinPath(src, "quality"), j), &o.Quality[j])
		}
	}
}

// countChecks counts what an object asks to be checked.
func countChecks(o odcsObject) int {
	n := len(o.Quality)
	var walk func([]odcsProperty)
	walk = func(ps []odcsProperty) {
		for _, p := range ps {
			n += len(p.Quality)
			if p.Required {
				n++
			}
			walk(p.Properties)
			if p.Items != nil {
				walk([]odcsProperty{*p.Items})
			}
		}
	}
	walk(o.Properties)
	return n
}

// index records the field path of every property under its logical and
// physical names, for SLA elements.
func (m *contractMapper) index(obj, phys string, props []odcsProperty, logical, physical []string) {
	for _, p := range props {
		l := append(slices.Clip(logical), p.Name)
		f := append(slices.Clip(physical), fieldName(p))
		field := strings.Join(f, ".")
		for _, key := range []string{strings.Join(l, "."), field} {
			m.props[key] = field
			if obj != "" {
				m.props[obj+"."+key] = field
			}
			if phys != "" {
				m.props[phys+"."+key] = field
			}
		}
		m.index(obj, phys, p.Properties, l, f)
	}
}

// fieldName is the key of a property in a record: its physical name, or
// its name.
func fieldName(p odcsProperty) string {
	if p.PhysicalName != "" {
		return p.PhysicalName
	}
	return p.Name
}

// properties reads the required flags and checks of props, whose parents
// are the fields of prefix; required tells whether all of them are
// required.
func (m *contractMapper) properties(src string, props []odcsProperty, prefix []string, required bool) {
	for i := range props {
		pr := &props[i]
		ps := meshwatch.IndexPath(meshwatch.JoinPath(src, "properties"), i)
		name := fieldName(*pr)
		if name == "" {
			m.errf(meshwatch.JoinPath(ps, "name"), "is required: the property's field name")
			continue
		}
		segs := append(slices.Clip(prefix), name)
		if pr.Required {
			if required {
				m.addRequired(segs, meshwatch.JoinPath(ps, "required"))
			} else {
				m.unsupported(meshwatch.JoinPath(ps, "required"), "%s is inside an optional object: meshwatch checks required fields in every record, not only when their parent is present", strings.Join(segs, "."))
			}
		}
		if pr.PrimaryKey {
			m.keys = append(m.keys, keyField{field: strings.Join(segs, "."), src: meshwatch.JoinPath(ps, "primaryKey")})
		}
		if src := piiSource(pr, ps); src != "" {
			m.addPII(segs, src)
		}
		if pr.Unique {
			m.unsupported(meshwatch.JoinPath(ps, "unique"), "uniqueness over a whole stream needs every value ever seen; meshwatch detects duplicates only by producer sequence numbers (quality.sequence in the configuration)")
		}
		if pr.LogicalTypeOptions.set() {
			m.unsupported(meshwatch.JoinPath(ps, "logicalTypeOptions"), "logicalTypeOptions are not checked; write the constraint as a quality check (type: custom, engine: cel)")
		}
		for j := range pr.Quality {
			m.propertyCheck(meshwatch.IndexPath(meshwatch.JoinPath(ps, "quality"), j), &pr.Quality[j], segs, required)
		}
		m.properties(ps, pr.Properties, segs, required && pr.Required)
		if it := pr.Items; it != nil {
			isrc := meshwatch.JoinPath(ps, "items")
			if src := piiSource(it, isrc); src != "" {
				m.addPII(segs, src) // an array of personal data
			}
			n := countChecks(odcsObject{Properties: []odcsProperty{*it}})
			if it.Required {
				n-- // items of an array are there if they are
			}
			if n > 0 {
				m.unsupported(isrc, "%d checks of the items of array %s are not evaluated: meshwatch checks fields, not array elements", n, strings.Join(segs, "."))
			}
		}
	}
}

func (m *contractMapper) addRequired(segs []string, src string) {
	field := strings.Join(segs, ".")
	q := &m.p.Quality
	if slices.Contains(q.Required, field) {
		return
	}
	m.link(meshwatch.IndexPath(".quality.required", len(q.Required)), src)
	q.Required = append(q.Required, field)
	m.wantSLO(meshwatch.SLICompleteness, src)
}

// piiSource returns the path, under src, of what marks property p as
// personal data: classification pii, or a tag pii (either in any case);
// "" when nothing does.
func piiSource(p *odcsProperty, src string) string {
	if isPII(p.Classification.n) {
		return meshwatch.JoinPath(src, "classification")
	}
	if i := piiTag(p.Tags.n); i >= 0 {
		return meshwatch.IndexPath(meshwatch.JoinPath(src, "tags"), i)
	}
	return ""
}

// isPII reports whether n is the scalar pii, in any case.
func isPII(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && strings.EqualFold(strings.TrimSpace(n.Value), "pii")
}

// piiTag returns the index of the tag pii in the list n, or -1.
func piiTag(n *yaml.Node) int {
	if n = resolve(n); n == nil || n.Kind != yaml.SequenceNode {
		return -1
	}
	for i, t := range n.Content {
		if isPII(t) {
			return i
		}
	}
	return -1
}

// addPII adds the field of segs to the product's pii.
func (m *contractMapper) addPII(segs []string, src string) {
	field := strings.Join(segs, ".")
	if slices.Contains(m.p.PII, field) {
		return
	}
	m.link(meshwatch.IndexPath(".pii", len(m.p.PII)), src)
	m.p.PII = append(m.p.PII, field)
}

// Library metrics of ODCS.
const (
	metricNull      = "nullValues"
	metricMissing   = "missingValues"
	metricInvalid   = "invalidValues"
	metricDuplicate = "duplicateValues"
	metricRowCount  = "rowCount"
)

var (
	qualityTypes = []string{"library", "text", "sql", "custom"}
	metrics      = []string{metricNull, metricMissing, metricInvalid, metricDuplicate, metricRowCount}
)

// checkKind sorts out a check's type; it returns the library metric, or ""
// when the check is not a library check or has been reported.
func (m *contractMapper) checkKind(src string, q *odcsQuality, segs []string) string {
	typ := strings.ToLower(q.Type)
	metric := q.Metric
	if metric == "" {
		metric = q.Rule
	}
	switch typ {
	case "text":
		m.unsupported(src, "type text describes quality for people; there is nothing to evaluate")
	case "sql":
		m.unsupported(src, "type sql cannot be evaluated on a stream")
	case "custom":
		m.custom(src, q, segs)
	case "library", "":
		if metric == "" {
			m.errf(src, "metric is required for a library check: one of %s (or set type: text, sql or custom)", strings.Join(metrics, ", "))
			return ""
		}
		if !slices.Contains(metrics, metric) {
			msrc := meshwatch.JoinPath(src, "metric")
			if q.Metric == "" {
				msrc = meshwatch.JoinPath(src, "rule")
			}
			m.errf(msrc, "must be one of %s; got %s%s", strings.Join(metrics, ", "), meshwatch.Quote(metric), meshwatch.DidYouMean(metric, metrics))
			return ""
		}
		return metric
	default:
		m.errf(meshwatch.JoinPath(src, "type"), "must be one of %s; got %s%s", strings.Join(qualityTypes, ", "), meshwatch.Quote(q.Type), meshwatch.DidYouMean(q.Type, qualityTypes))
	}
	return ""
}

// custom reads a check of type custom: engine cel is a rule, other engines
// are unsupported.
func (m *contractMapper) custom(src string, q *odcsQuality, segs []string) {
	if !strings.EqualFold(q.Engine, "cel") {
		if q.Engine == "" {
			m.errf(src, "engine is required for type custom; meshwatch runs engine: cel")
			return
		}
		m.unsupported(meshwatch.JoinPath(src, "engine"), "engine %s cannot run on a stream; meshwatch runs engine: cel", meshwatch.Quote(q.Engine))
		m.reported[src] = true
		return
	}
	isrc := meshwatch.JoinPath(src, "implementation")
	n := resolve(q.Implementation.n)
	if n == nil || n.Kind != yaml.ScalarNode || strings.TrimSpace(n.Value) == "" {
		m.errf(isrc, "must be a CEL expression over message, key, headers, timestamp, topic, partition and offset, e.g. \"message.total > 0\"; got %s", yamlconf.Describe(n))
		return
	}
	def := "rule"
	if len(segs) > 0 {
		def = strings.Join(segs, "_") + "_rule"
	}
	m.addRule(src, isrc, q.ID, q.Name, def, strings.TrimSpace(n.Value))
	m.checkObjective(src, q, meshwatch.SLIValidity)
}

// propertyCheck reads a check of a property, the field of segs.
func (m *contractMapper) propertyCheck(src string, q *odcsQuality, segs []string, required bool) {
	metric := m.checkKind(src, q, segs)
	field := strings.Join(segs, ".")
	switch metric {
	case "":
	case metricNull, metricMissing:
		share, ok := m.tolerance(src, q)
		if !ok {
			return
		}
		var missing []string
		nullToo := true
		if metric == metricMissing {
			missing, nullToo, ok = m.missingValues(src, q)
			if !ok {
				return
			}
		}
		if nullToo {
			if !required {
				m.unsupported(src, "%s %s is inside an optional object: meshwatch checks required fields in every record, not only when their parent is present", metric, field)
				return
			}
			m.addRequired(segs, src)
			m.objectiveShare(meshwatch.SLICompleteness, share, src)
		}
		if len(missing) > 0 {
			m.addRule(src, src, q.ID, q.Name, strings.Join(segs, "_")+"_not_missing",
				guard(segs)+"!("+celField(segs)+" in ["+strings.Join(missing, ", ")+"])")
			m.objectiveShare(meshwatch.SLIValidity, share, src)
		}
	case metricInvalid:
		share, ok := m.tolerance(src, q)
		if !ok {
			return
		}
		expr, ok := m.validExpr(src, q, segs)
		if !ok {
			return
		}
		m.addRule(src, src, q.ID, q.Name, strings.Join(segs, "_")+"_valid", guard(segs)+expr)
		m.objectiveShare(meshwatch.SLIValidity, share, src)
	case metricDuplicate:
		m.unsupported(src, "duplicateValues over a whole stream needs every value ever seen; meshwatch detects duplicates only by producer sequence numbers (quality.sequence in the configuration)")
	case metricRowCount:
		m.unsupported(src, "rowCount applies to a schema object, not to a property")
	}
}

// objectCheck reads a check of a topic object.
func (m *contractMapper) objectCheck(src string, q *odcsQuality) {
	switch metric := m.checkKind(src, q, nil); metric {
	case "":
	case metricRowCount:
		m.rowCount(src, q)
	case metricDuplicate:
		m.unsupported(src, "duplicateValues over a whole stream needs every value ever seen; meshwatch detects duplicates only by producer sequence numbers (quality.sequence in the configuration)")
	default:
		m.unsupported(src, "%s applies to a property; put the check under the property's quality", metric)
	}
}

// operator returns the single comparison operator of q.
func (m *contractMapper) operator(src string, q *odcsQuality) (op string, v float64, between []float64, ok bool) {
	var set []string
	num := func(name string, x odcsValue) {
		if x.set() {
			set = append(set, name)
			n := resolve(x.n)
			f, err := strconv.ParseFloat(n.Value, 64)
			if n.Kind != yaml.ScalarNode || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				m.errf(meshwatch.JoinPath(src, name), "must be a number for metric %s; got %s", q.Metric, yamlconf.Describe(n))
				set = append(set, "") // reported
			}
			v = f
		}
	}
	num("mustBe", q.MustBe)
	num("mustNotBe", q.MustNotBe)
	for _, o := range []struct {
		name string
		v    *float64
	}{{"mustBeGreaterThan", q.MustBeGreaterThan}, {"mustBeGreaterOrEqualTo", q.MustBeGreaterOrEqualTo},
		{"mustBeLessThan", q.MustBeLessThan}, {"mustBeLessOrEqualTo", q.MustBeLessOrEqualTo}} {
		if o.v != nil {
			set = append(set, o.name)
			v = *o.v
		}
	}
	for _, o := range []struct {
		name string
		v    []float64
	}{{"mustBeBetween", q.MustBeBetween}, {"mustNotBeBetween", q.MustNotBeBetween}} {
		if o.v == nil {
			continue
		}
		set = append(set, o.name)
		between = o.v
		if len(o.v) != 2 || o.v[0] > o.v[1] {
			m.errf(meshwatch.JoinPath(src, o.name), "must be two numbers, the smaller first, like [10, 20]; got %s", formatFloats(o.v))
			set = append(set, "")
		}
	}
	switch {
	case slices.Contains(set, ""):
		return "", 0, nil, false
	case len(set) == 0:
		m.errf(src, "needs an operator such as mustBe: 0 or mustBeLessThan: 1")
		return "", 0, nil, false
	case len(set) > 1:
		m.errf(src, "must set one operator; got %s", strings.Join(set, " and "))
		return "", 0, nil, false
	}
	return set[0], v, between, true
}

// tolerance reads the threshold of a count of bad values (null, missing,
// invalid) as the percentage of bad records tolerated: 0 when none is. A
// count of rows is only meaningful on a stream when it is zero.
func (m *contractMapper) tolerance(src string, q *odcsQuality) (share float64, ok bool) {
	op, v, _, ok := m.operator(src, q)
	if !ok {
		return 0, false
	}
	unit := strings.ToLower(q.Unit)
	percent := unit == "percent" || unit == "%"
	if !percent && unit != "" && unit != "rows" {
		m.unsupported(meshwatch.JoinPath(src, "unit"), "unit %s: meshwatch reads rows or percent", meshwatch.Quote(q.Unit))
		return 0, false
	}
	zero := op == "mustBe" && v == 0 || op == "mustBeLessOrEqualTo" && v == 0 ||
		!percent && (op == "mustBeLessThan" && v > 0 && v <= 1 || op == "mustBeLessOrEqualTo" && v >= 0 && v < 1)
	switch {
	case zero:
		return 0, true
	case percent && (op == "mustBeLessThan" || op == "mustBeLessOrEqualTo") && v > 0 && v < 100:
		return v, true
	case percent:
		m.unsupported(src, "%s %s percent: meshwatch reads a share of bad records as mustBe: 0, or mustBeLessThan (or mustBeLessOrEqualTo) a percentage above 0 and below 100", op, formatFloat(v))
	default:
		m.unsupported(src, "%s %s rows counts bad rows of a whole table, and a stream has no end: use mustBe: 0, or unit: percent", op, formatFloat(v))
	}
	return 0, false
}

// missingValues reads arguments.missingValues: the CEL literals of the
// values other than null, and whether null is one. Without the argument,
// null is the missing value.
func (m *contractMapper) missingValues(src string, q *odcsQuality) (lits []string, null, ok bool) {
	args := resolve(q.Arguments.n)
	m.checkArguments(src, args, "missingValues")
	list := mapValue(args, "missingValues")
	if list == nil || yamlconf.IsNull(list) {
		return nil, true, true
	}
	lsrc := meshwatch.JoinPath(meshwatch.JoinPath(src, "arguments"), "missingValues")
	if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
		m.errf(lsrc, "must be a list of values, like [null, '', 'N/A']; got %s", yamlconf.Describe(list))
		return nil, false, false
	}
	for i, v := range list.Content {
		v = resolve(v)
		if yamlconf.IsNull(v) {
			null = true
			continue
		}
		lit, err := celLiteral(v)
		if err != nil {
			m.errf(meshwatch.IndexPath(lsrc, i), "%s", err.Error())
			return nil, false, false
		}
		lits = append(lits, lit)
	}
	return lits, null, true
}

// checkArguments warns of the arguments that meshwatch does not read.
func (m *contractMapper) checkArguments(src string, args *yaml.Node, known ...string) {
	if args == nil || yamlconf.IsNull(args) {
		return
	}
	asrc := meshwatch.JoinPath(src, "arguments")
	if args.Kind != yaml.MappingNode {
		m.errf(asrc, "must be a mapping; got %s", yamlconf.Describe(args))
		return
	}
	for i := 0; i+1 < len(args.Content); i += 2 {
		k := resolve(args.Content[i]).Value
		if !slices.Contains(known, k) {
			m.unsupported(meshwatch.JoinPath(asrc, k), "argument %s is not read%s; known: %s", meshwatch.Quote(k), meshwatch.DidYouMean(k, known), strings.Join(known, ", "))
		}
	}
}

// validExpr builds the CEL condition of an invalidValues check from its
// arguments validValues and pattern.
func (m *contractMapper) validExpr(src string, q *odcsQuality, segs []string) (string, bool) {
	args := resolve(q.Arguments.n)
	m.checkArguments(src, args, "validValues", "pattern")
	asrc := meshwatch.JoinPath(src, "arguments")
	field := celField(segs)
	var conds []string
	if list := mapValue(args, "validValues"); list != nil && !yamlconf.IsNull(list) {
		lsrc := meshwatch.JoinPath(asrc, "validValues")
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			m.errf(lsrc, "must be a list of the valid values, like ['EUR', 'USD']; got %s", yamlconf.Describe(list))
			return "", false
		}
		var lits []string
		null := false
		for i, v := range list.Content {
			v = resolve(v)
			if yamlconf.IsNull(v) {
				null = true
				continue
			}
			lit, err := celLiteral(v)
			if err != nil {
				m.errf(meshwatch.IndexPath(lsrc, i), "%s", err.Error())
				return "", false
			}
			lits = append(lits, lit)
		}
		c := field + " in [" + strings.Join(lits, ", ") + "]"
		if null {
			c = field + " == null || " + c
		}
		conds = append(conds, c)
	}
	if pat := mapValue(args, "pattern"); pat != nil && !yamlconf.IsNull(pat) {
		psrc := meshwatch.JoinPath(asrc, "pattern")
		if pat.Kind != yaml.ScalarNode {
			m.errf(psrc, "must be a regular expression; got %s", yamlconf.Describe(pat))
			return "", false
		}
		if _, err := regexp.Compile(pat.Value); err != nil {
			m.unsupported(psrc, "pattern %s is not a regular expression that meshwatch can run (RE2 syntax): %s", meshwatch.Quote(pat.Value), meshwatch.RegexpError(err, pat.Value))
			return "", false
		}
		conds = append(conds, field+".matches("+celString(pat.Value)+")")
	}
	switch len(conds) {
	case 0:
		m.errf(src, "invalidValues needs arguments.validValues or arguments.pattern: what a valid value is")
		return "", false
	case 1:
		return conds[0], true
	}
	return "(" + conds[0] + ") && " + conds[1], true
}

// rowCount reads a lower bound of a topic's rows per unit of time as the
// volume of the product.
func (m *contractMapper) rowCount(src string, q *odcsQuality) {
	perMinute, ok := rateUnit(q.Unit)
	if !ok {
		m.unsupported(src, "rowCount counts the rows of a table, and a stream has no end: give a rate, e.g. unit: rows/minute")
		return
	}
	op, v, between, ok := m.operator(src, q)
	if !ok {
		return
	}
	var minRate float64
	switch op {
	case "mustBeGreaterOrEqualTo":
		minRate = v * perMinute
	case "mustBeGreaterThan":
		minRate = v * perMinute
		if perMinute == 1 {
			// Records come whole: more than v in a minute is at least ⌊v⌋+1.
			minRate = math.Floor(v) + 1
		}
	case "mustBeBetween":
		minRate = between[0] * perMinute
		m.unsupported(meshwatch.JoinPath(src, op), "the upper bound %s is not checked: volume is a lower bound", formatFloat(between[1]))
	default:
		m.unsupported(meshwatch.JoinPath(src, op), "%s: volume is a lower bound (mustBeGreaterThan, mustBeGreaterOrEqualTo or mustBeBetween)", op)
		return
	}
	if !(minRate > 0) {
		m.unsupported(src, "a lower bound of %s rows never fails", formatFloat(minRate))
		return
	}
	vol := m.p.Quality.Volume
	if vol == nil {
		vol = &meshwatch.Volume{}
		m.p.Quality.Volume = vol
	}
	if minRate > vol.MinPerMinute {
		vol.MinPerMinute = minRate
		m.link(".quality.volume", src)
		m.link(".quality.volume.min_per_minute", meshwatch.JoinPath(src, op))
	}
	m.wantSLO(meshwatch.SLIVolume, src)
	m.checkObjective(src, q, meshwatch.SLIVolume)
}

// rateUnit reads "rows/minute", "rows per second" and the like: how many
// per minute one of the unit is.
func rateUnit(unit string) (perMinute float64, ok bool) {
	u := strings.ToLower(strings.TrimSpace(unit))
	u = strings.TrimPrefix(u, "rows")
	u = strings.TrimSpace(u)
	switch {
	case strings.HasPrefix(u, "/"):
		u = u[1:]
	case strings.HasPrefix(u, "per "):
		u = u[4:]
	default:
		return 0, false
	}
	switch strings.TrimSpace(u) {
	case "s", "sec", "second":
		return 60, true
	case "m", "min", "minute":
		return 1, true
	case "h", "hr", "hour":
		return 1.0 / 60, true
	case "d", "day":
		return 1.0 / (24 * 60), true
	}
	return 0, false
}

// checkObjective reports operators on a check that feeds an SLI by itself
// (a CEL rule, a rowCount): they have no meaning there.
func (m *contractMapper) checkObjective(src string, q *odcsQuality, sli string) {
	if sli == meshwatch.SLIValidity && (q.MustBe.set() || q.MustNotBe.set() || q.MustBeLessThan != nil || q.MustBeLessOrEqualTo != nil ||
		q.MustBeGreaterThan != nil || q.MustBeGreaterOrEqualTo != nil || q.MustBeBetween != nil || q.MustNotBeBetween != nil) {
		m.unsupported(src, "operators of a CEL check are not read: the expression must be true for every record")
	}
}

// addRule adds a validity rule. id and name are the check's, def the
// name of the rule when neither names it; finishRules names the rules.
func (m *contractMapper) addRule(src, exprSrc, id, name, def, expr string) {
	if first, dup := m.ruleExprs[expr]; dup {
		if id != "" || name != "" || m.simple != nil {
			m.warnf(src, "the same rule as %s, which is checked once", first)
		}
		return // the same check twice, by an alias say
	}
	m.ruleExprs[expr] = src
	q := &m.p.Quality
	k := len(q.Rules)
	rp := meshwatch.IndexPath(".quality.rules", k)
	m.link(rp, src)
	m.link(rp+".name", src)
	m.link(rp+".expr", exprSrc)
	pos := m.d.Position(src)
	q.Rules = append(q.Rules, meshwatch.Rule{Expr: expr, Source: fmt.Sprintf("%s:%d", pos.File, pos.Line)})
	m.rules = append(m.rules, pendingRule{k: k, src: src, id: id, name: name, def: def})
	m.wantSLO(meshwatch.SLIValidity, src)
}

// ruleName is what a rule's name must be: a metric label.
var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// finishRules names the rules: after the check's id when it has one, which
// must be unique; then after its name, made a metric label; then after its
// field. A name that another rule has already gets a suffix _2, _3...
func (m *contractMapper) finishRules() {
	taken := make(map[string]string) // rule name → where it comes from
	seq := make(map[string]int)      // base name → its last suffix
	rules := m.p.Quality.Rules
	for _, r := range m.rules {
		if r.id == "" {
			continue
		}
		isrc := meshwatch.JoinPath(r.src, "id")
		m.idUsed[r.src] = true // used, or reported
		n := r.id
		if !ruleName.MatchString(n) {
			if n = ruleLabel(r.id); n == "" {
				m.warnf(isrc, "id %s has no letter or digit to name a rule with: the rule is named after the check's name or field", meshwatch.Quote(r.id))
				continue
			}
			m.warnf(isrc, "id %s is not a rule name (lowercase letters, digits and _, starting with a letter, at most 63): the rule is named %s", meshwatch.Quote(r.id), n)
		}
		if first, dup := taken[n]; dup {
			m.errf(isrc, "names rule %s, which %s names already: the id of a check must be unique", n, first)
			continue
		}
		taken[n] = isrc
		rules[r.k].Name = n
		m.link(meshwatch.IndexPath(".quality.rules", r.k)+".name", isrc)
	}
	for _, r := range m.rules {
		if rules[r.k].Name != "" {
			continue
		}
		n, from := ruleLabel(r.name), meshwatch.JoinPath(r.src, "name")
		if n == "" {
			n, from = ruleLabel(r.def), r.src
		} else {
			m.nameUsed[r.src] = true
			m.link(meshwatch.IndexPath(".quality.rules", r.k)+".name", from)
		}
		base := n
		for taken[n] != "" {
			// The last suffix of base is kept: many rules of one name
			// would otherwise take quadratic time.
			seq[base]++
			suffix := "_" + strconv.Itoa(seq[base]+1)
			n = base[:min(len(base), 63-len(suffix))] + suffix
		}
		taken[n] = from
		rules[r.k].Name = n
	}
}

// ruleLabel makes s a rule name: lowercase letters, digits and _, starting
// with a letter, at most 63 characters; "" if nothing is left.
func ruleLabel(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if b.Len() == 0 && r <= '9' {
				b.WriteString("r_")
			}
			b.WriteRune(r)
			under = false
		case b.Len() > 0 && !under:
			b.WriteByte('_')
			under = true
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "_")
	}
	return out
}

// wantSLO asks for the SLO of sli, for the part of the contract at src.
func (m *contractMapper) wantSLO(sli, src string) *sloDraft {
	s, ok := m.slos[sli]
	if !ok {
		s = &sloDraft{src: src}
		m.slos[sli] = s
	}
	return s
}

// objectiveShare sets the objective of sli from a share of bad records
// tolerated, in percent; 0 sets nothing.
func (m *contractMapper) objectiveShare(sli string, share float64, src string) {
	if share > 0 {
		m.objectivePercent(sli, 100-share, src)
	}
}

// objectivePercent sets the objective of sli to pct percent when it is
// stricter than the one it has: the SLO keeps every promise.
func (m *contractMapper) objectivePercent(sli string, pct float64, src string) {
	s := m.wantSLO(sli, src)
	if pct > s.objective {
		s.objective, s.objectiveSrc = pct, src
		s.objectiveText = formatFloat(pct) + "%"
	}
}

// slaNames maps the SLA properties of ODCS (lowercase, with their
// synonyms) to the SLI they promise; "" is unsupported, with the reason.
var slaNames = map[string]struct{ sli, why string }{
	"latency":             {sli: meshwatch.SLILatency},
	"ly":                  {sli: meshwatch.SLILatency},
	"freshness":           {sli: meshwatch.SLIFreshness},
	"availability":        {sli: meshwatch.SLIAvailability},
	"av":                  {sli: meshwatch.SLIAvailability},
	"completeness":        {sli: meshwatch.SLICompleteness},
	"errorrate":           {sli: meshwatch.SLIValidity},
	"er":                  {sli: meshwatch.SLIValidity},
	"throughput":          {why: "throughput is not promised by meshwatch; a lower bound of records is a rowCount check with a unit such as rows/minute"},
	"th":                  {why: "throughput is not promised by meshwatch; a lower bound of records is a rowCount check with a unit such as rows/minute"},
	"retention":           {why: "retention is a topic setting (retention.ms), not something measured on records"},
	"re":                  {why: "retention is a topic setting (retention.ms), not something measured on records"},
	"frequency":           {why: "frequency is the update schedule of a batch dataset; a stream's silence is measured by freshness"},
	"fy":                  {why: "frequency is the update schedule of a batch dataset; a stream's silence is measured by freshness"},
	"generalavailability": {why: "a date, nothing to measure"},
	"ga":                  {why: "a date, nothing to measure"},
	"endofsupport":        {why: "a date, nothing to measure"},
	"es":                  {why: "a date, nothing to measure"},
	"endoflife":           {why: "a date, nothing to measure"},
	"el":                  {why: "a date, nothing to measure"},
	"timeofavailability":  {why: "a time of day at which a batch is ready; a stream is measured by latency and freshness"},
	"timetodetect":        {why: "a promise about the team's incident process, not about the records"},
	"td":                  {why: "a promise about the team's incident process, not about the records"},
	"timetonotify":        {why: "a promise about the team's incident process, not about the records"},
	"tn":                  {why: "a promise about the team's incident process, not about the records"},
	"timetorepair":        {why: "a promise about the team's incident process, not about the records"},
	"tr":                  {why: "a promise about the team's incident process, not about the records"},
}

func (m *contractMapper) slaProperties() {
	for i := range m.doc.SLAProperties {
		s := &m.doc.SLAProperties[i]
		src := meshwatch.IndexPath("slaProperties", i)
		if s.Property == "" {
			m.errf(meshwatch.JoinPath(src, "property"), "is required, e.g. latency")
			continue
		}
		kind, known := slaNames[strings.ToLower(s.Property)]
		switch {
		case !known:
			m.unsupported(meshwatch.JoinPath(src, "property"), "SLA property %s is not one meshwatch measures (latency, freshness, availability, completeness, errorRate)", meshwatch.Quote(s.Property))
			m.reported[src] = true
			continue
		case kind.sli == "":
			m.unsupported(meshwatch.JoinPath(src, "property"), "%s: %s", s.Property, kind.why)
			m.reported[src] = true
			continue
		}
		if s.ValueExt.set() && kind.sli != meshwatch.SLILatency {
			m.unsupported(meshwatch.JoinPath(src, "valueExt"), "valueExt of %s: meshwatch reads valueExt as the percentile of a latency (p99)", s.Property)
		}
		vsrc := meshwatch.JoinPath(src, "value")
		v := resolve(s.Value.n)
		if v == nil || yamlconf.IsNull(v) || v.Kind != yaml.ScalarNode {
			m.errf(vsrc, "is required: a single value; got %s", yamlconf.Describe(v))
			continue
		}
		switch kind.sli {
		case meshwatch.SLILatency, meshwatch.SLIFreshness:
			m.thresholdSLA(kind.sli, src, s, v)
		case meshwatch.SLIValidity:
			pct, err := slaPercent(v, s.Unit)
			if err != nil {
				m.errf(vsrc, "%s", err.Error())
				continue
			}
			if !(pct > 0 && pct < 100) {
				m.errf(vsrc, "must be an error rate above 0%% and below 100%%, got %s%%", formatFloat(pct))
				continue
			}
			m.objectivePercent(meshwatch.SLIValidity, 100-pct, vsrc)
		default:
			pct, err := slaPercent(v, s.Unit)
			if err != nil {
				m.errf(vsrc, "%s", err.Error())
				continue
			}
			if !(pct > 0 && pct < 100) {
				m.errf(vsrc, "must be above 0%% and below 100%%, got %s%%", formatFloat(pct))
				continue
			}
			if kind.sli == meshwatch.SLICompleteness && len(m.p.Quality.Required) == 0 {
				m.errf(src, "completeness needs a property with required: true, or a nullValues or missingValues check: there is nothing to count as missing")
				continue
			}
			s := m.wantSLO(kind.sli, src)
			if s.objectiveSrc == "" || pct > s.objective {
				s.objective, s.objectiveSrc, s.objectiveText = pct, vsrc, formatFloat(pct)+"%"
			}
		}
	}
}

// slaPercent reads a percentage: "99.9%", or a number with unit % or
// percent, or a number without unit, a percentage when above 1 and a ratio
// otherwise. It returns percent.
func slaPercent(v *yaml.Node, unit string) (float64, error) {
	s := strings.TrimSpace(v.Value)
	u := strings.ToLower(strings.TrimSpace(unit))
	if strings.HasSuffix(s, "%") {
		u, s = "percent", strings.TrimSpace(strings.TrimSuffix(s, "%"))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf(`must be a percentage like "99.9%%" or 99.9 with unit: percent; got %s`, meshwatch.Quote(v.Value))
	}
	switch u {
	case "percent", "%":
		return f, nil
	case "":
		if f > 1 {
			return f, nil
		}
		// The percentage of the ratio f, with its decimal point moved:
		// 0.999 gives 99.9, not 99.89999999999999.
		p, _ := strconv.ParseFloat(strings.TrimSuffix(meshwatch.Percent(f).String(), "%"), 64)
		return p, nil
	}
	return 0, fmt.Errorf("unit must be percent or %% for a percentage; got %s", meshwatch.Quote(unit))
}

// durationUnits are the units of an SLA's time value.
var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// thresholdSLA reads a latency or freshness SLA: its value and unit are the
// threshold, its element the event time.
func (m *contractMapper) thresholdSLA(sli, src string, s *odcsSLA, v *yaml.Node) {
	vsrc := meshwatch.JoinPath(src, "value")
	if prev, ok := m.slos[sli]; ok && prev.thresholdSrc != "" {
		m.unsupported(src, "a second %s SLA: meshwatch keeps one %s SLO per product, from %s", s.Property, sli, meshwatch.ParentPath(prev.thresholdSrc))
		return
	}
	var d meshwatch.Duration
	if s.Unit == "" {
		var err error
		if d, err = meshwatch.ParseDuration(v.Value); err != nil {
			m.errf(vsrc, "must be a duration like 1s or 15m, or a number with a unit (ms, s, m, h, d); got %s", meshwatch.Quote(v.Value))
			return
		}
	} else {
		unit, ok := durationUnits[strings.ToLower(strings.TrimSpace(s.Unit))]
		if !ok {
			m.errf(meshwatch.JoinPath(src, "unit"), "must be a unit of time: ms, s, m (minutes), h or d; got %s", meshwatch.Quote(s.Unit))
			return
		}
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || math.IsNaN(f) || math.Abs(f*float64(unit)) > math.MaxInt64 {
			m.errf(vsrc, "must be a number of %s; got %s", s.Unit, meshwatch.Quote(v.Value))
			return
		}
		d = meshwatch.Duration(math.Round(f * float64(unit)))
	}
	draft := m.wantSLO(sli, src)
	draft.threshold, draft.thresholdSrc = d, vsrc
	if x := resolve(s.ValueExt.n); sli == meshwatch.SLILatency && s.ValueExt.set() {
		xsrc := meshwatch.JoinPath(src, "valueExt")
		pct, ok := percentile(x.Value)
		switch {
		case x.Kind != yaml.ScalarNode || !ok:
			m.unsupported(xsrc, "valueExt %s: meshwatch reads a percentile such as p99 (99%% of the records within the latency); the objective is the contract's default", yamlconf.Describe(x))
		default:
			m.percentileObjective(draft, pct, xsrc)
		}
	}
	element, esrc := s.Element, meshwatch.JoinPath(src, "element")
	if element == "" && m.doc.SLADefaultElement != "" {
		element, esrc = m.doc.SLADefaultElement, "slaDefaultElement"
	}
	if element != "" {
		m.eventTime(element, esrc)
	}
}

// percentile reads a percentile, "p99", "P99.9" or "p999" (99.9), as a
// percentage above 0 and below 100.
func percentile(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != 'p' && s[0] != 'P' {
		return 0, false
	}
	digits := s[1:]
	if len(digits) > 2 && strings.Trim(digits, "0123456789") == "" && !strings.HasPrefix(digits, "100") {
		digits = digits[:2] + "." + digits[2:] // p999 is the 99.9th percentile
	}
	f, err := strconv.ParseFloat(digits, 64)
	if err != nil || strings.ContainsAny(digits, "eE+-_xXpP") || !(f > 0 && f < 100) {
		return 0, false
	}
	return f, true
}

// percentileObjective makes the percentile of a latency, pct percent of the
// records within the threshold, the objective of the latency SLO: a p99 of
// 1 s is an objective of 99 % of the records within 1 s. It is the
// latency's own promise, so it wins over meshwatchObjective.
func (m *contractMapper) percentileObjective(draft *sloDraft, pct float64, src string) {
	draft.objective, draft.objectiveSrc, draft.objectiveText = pct, src, formatFloat(pct)+"%"
}

// eventTime makes the property that an SLA element names the product's
// event time.
func (m *contractMapper) eventTime(element, src string) {
	if strings.Contains(element, ",") {
		m.unsupported(src, "several elements %s: the event time is one field; the record timestamp is used", meshwatch.Quote(element))
		return
	}
	field, ok := m.props[strings.TrimSpace(element)]
	if !ok {
		m.errf(src, "must name a property of a topic object, like orders.placed_at; got %s", meshwatch.Quote(element))
		return
	}
	switch {
	case m.eventField == "":
		m.p.EventTime = meshwatch.EventTime{Field: field}
		m.eventField = src
		m.link(".event_time", src)
		m.link(".event_time.field", src)
	case m.p.EventTime.Field != field:
		m.unsupported(src, "event time %s: the product's event time is %s already, from %s", meshwatch.Quote(field), meshwatch.Quote(m.p.EventTime.Field), m.eventField)
	}
}

// sloOrder is the order of a contract product's SLOs.
var sloOrder = []string{meshwatch.SLILatency, meshwatch.SLIFreshness, meshwatch.SLIAvailability, meshwatch.SLICompleteness, meshwatch.SLIValidity, meshwatch.SLIVolume}

// finishSLOs writes one SLO per SLI the contract feeds, named after it.
func (m *contractMapper) finishSLOs() {
	for _, sli := range sloOrder {
		s, ok := m.slos[sli]
		if !ok {
			continue
		}
		k := len(m.p.SLOs)
		sp := meshwatch.IndexPath(".slos", k)
		slo := meshwatch.SLO{Name: sli, SLI: sli, Threshold: s.threshold, Objective: m.objective}
		m.link(sp, s.src)
		m.link(sp+".objective", s.src)
		if m.objSrc != "" {
			m.link(sp+".objective", m.objSrc)
		}
		if s.objectiveSrc != "" {
			o, err := meshwatch.ParsePercent(s.objectiveText)
			if err != nil {
				m.errf(s.objectiveSrc, "must be a percentage from 0%% to 100%%, got %s", s.objectiveText)
			}
			slo.Objective = o
			m.link(sp+".objective", s.objectiveSrc)
		}
		if s.thresholdSrc != "" {
			m.link(sp+".threshold", s.thresholdSrc)
		}
		m.p.SLOs = append(m.p.SLOs, slo)
	}
}

// celField is the CEL expression of the field of segs in message.
func celField(segs []string) string {
	var b strings.Builder
	b.WriteString("message")
	for _, s := range segs {
		if celIdent(s) {
			b.WriteByte('.')
			b.WriteString(s)
		} else {
			b.WriteByte('[')
			b.WriteString(celString(s))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// guard returns the CEL condition, with a trailing "||", under which a
// field that is absent passes: a missing value is completeness's business.
func guard(segs []string) string {
	var conds []string
	for i, s := range segs {
		parent := celField(segs[:i])
		if celIdent(s) {
			conds = append(conds, "has("+parent+"."+s+")")
		} else {
			conds = append(conds, celString(s)+" in "+parent)
		}
	}
	if len(conds) == 1 {
		if !celIdent(segs[0]) {
			return "!(" + conds[0] + ") || " // ! binds tighter than in
		}
		return "!" + conds[0] + " || "
	}
	return "!(" + strings.Join(conds, " && ") + ") || "
}

var celReserved = []string{"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
	"function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}

func celIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' || slices.Contains(celReserved, s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// celString writes s as a CEL string literal.
func celString(s string) string {
	if !strings.ContainsAny(s, `'\`) && strconv.CanBackquote(s) {
		return "'" + s + "'"
	}
	return strconv.Quote(s)
}

// celLiteral writes a scalar of a contract as a CEL literal.
func celLiteral(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be a single value (a string, a number or true/false); got %s", yamlconf.Describe(n))
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		}
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return strconv.FormatBool(b), nil
		}
	}
	return celString(n.Value), nil
}

func formatFloats(fs []float64) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = formatFloat(f)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
