package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/meshwatch/meshwatch"
)

// Built-in policies, by the name that policy: takes.
const (
	Naming        = "naming"
	Metadata      = "metadata"
	TopicConfig   = "topic_config"
	Schema        = "schema"
	PII           = "pii"
	UnownedTopics = "unowned_topics"
)

var builtins = []string{Naming, Metadata, TopicConfig, Schema, PII, UnownedTopics}

// Builtins returns the names of the built-in policies, in the order the
// package documentation describes them.
func Builtins() []string { return slices.Clone(builtins) }

// Severities of a policy and of its violations.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// What the metadata policy can require (its require: list; all by
// default).
const (
	RequireOwnerChannel    = "owner_channel"
	RequireTier            = "tier"
	RequireDescription     = "description"
	RequireSLO             = "slo"
	RequireContractVersion = "contract_version"
)

var requirements = []string{RequireOwnerChannel, RequireTier, RequireDescription, RequireSLO, RequireContractVersion}

// Compatibility levels of a schema registry subject.
var compatLevels = []string{"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}

// Config is the policies: section of config.yaml: the policies the mesh
// is held to, in order.
type Config []Policy

// Policy is one entry of policies:, a built-in policy (Policy set, with
// the parameters of that policy) or a custom one (Name and Expr). Which
// parameters each policy takes, and their defaults, is the package
// documentation's.
type Policy struct {
	// Policy is the built-in policy's name (Builtins); "" for a custom
	// policy.
	Policy string `yaml:"policy"`
	// Name is the policy's ID in violations and metrics: a custom
	// policy's is required; a built-in's defaults to its Policy, and is
	// needed to tell two entries of one built-in apart. Lowercase letters,
	// digits, _ and -, starting with a letter, at most 63.
	Name string `yaml:"name"`
	// Severity is error (default) or warning.
	Severity string `yaml:"severity"`
	// Scope selects the products the policy applies to; empty: all.
	Scope Scope `yaml:"scope"`

	// naming
	Pattern      string `yaml:"pattern"`
	TopicPattern string `yaml:"topic_pattern"`
	Topics       *bool  `yaml:"topics"`

	// metadata
	Require []string `yaml:"require"`

	// topic_config
	MinReplicationFactor     int     `yaml:"min_replication_factor"`
	MinInsyncReplicas        int     `yaml:"min_insync_replicas"`
	RetentionCoversReplay    *bool   `yaml:"retention_covers_replay"`
	CleanupPolicyMatchesKind *bool   `yaml:"cleanup_policy_matches_kind"`
	Partitions               *Bounds `yaml:"partitions"`

	// schema
	Compatibility string `yaml:"compatibility"`
	Fields        *bool  `yaml:"fields"`

	// unowned_topics
	Allow []string `yaml:"allow"`

	// custom
	Expr    string `yaml:"expr"`
	Message string `yaml:"message"`
}

// Scope selects products by domain and by tier; a product is in scope when
// it is in one of Domains (if any) and of one of Tiers (if any).
type Scope struct {
	Domains []string `yaml:"domains"`
	Tiers   []int    `yaml:"tiers"`
}

// Bounds bounds a topic's partition count; 0 leaves a side open.
type Bounds struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// ID returns the policy's ID: its name, or the built-in's.
func (p *Policy) ID() string {
	if p.Name != "" {
		return p.Name
	}
	return p.Policy
}

// param is a parameter of a policy, and how to tell that it is set.
type param struct {
	key string
	set func(*Policy) bool
}

var params = []param{
	{"pattern", func(p *Policy) bool { return p.Pattern != "" }},
	{"topic_pattern", func(p *Policy) bool { return p.TopicPattern != "" }},
	{"topics", func(p *Policy) bool { return p.Topics != nil }},
	{"require", func(p *Policy) bool { return p.Require != nil }},
	{"min_replication_factor", func(p *Policy) bool { return p.MinReplicationFactor != 0 }},
	{"min_insync_replicas", func(p *Policy) bool { return p.MinInsyncReplicas != 0 }},
	{"retention_covers_replay", func(p *Policy) bool { return p.RetentionCoversReplay != nil }},
	{"cleanup_policy_matches_kind", func(p *Policy) bool { return p.CleanupPolicyMatchesKind != nil }},
	{"partitions", func(p *Policy) bool { return p.Partitions != nil }},
	{"compatibility", func(p *Policy) bool { return p.Compatibility != "" }},
	{"fields", func(p *Policy) bool { return p.Fields != nil }},
	{"allow", func(p *Policy) bool { return p.Allow != nil }},
	{"expr", func(p *Policy) bool { return p.Expr != "" }},
	{"message", func(p *Policy) bool { return p.Message != "" }},
}

// paramsOf are the parameters of each policy; "" is a custom policy.
var paramsOf = map[string][]string{
	Naming:        {"pattern", "topic_pattern", "topics"},
	Metadata:      {"require"},
	TopicConfig:   {"min_replication_factor", "min_insync_replicas", "retention_covers_replay", "cleanup_policy_matches_kind", "partitions"},
	Schema:        {"compatibility", "fields"},
	PII:           nil,
	UnownedTopics: {"allow"},
	"":            {"expr", "message"},
}

var policyName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// Validate checks the policies as Compile does and returns every problem,
// each with its Path (policies[3].expr) and no position: the loader
// (package config) places them. mesh, when not nil, is the model the
// policies apply to: a scope's domain that no product has is a warning.
// A nil Config has no problem.
func (c *Config) Validate(mesh *meshwatch.Config) meshwatch.Problems {
	_, ps := compile(c, mesh)
	return ps
}

// Compile checks the policies and compiles them, their regular
// expressions and CEL expressions, into a Set. The error, when any, is the
// meshwatch.Problems that Validate returns (errors only; warnings do not
// stop it). A nil Config gives an empty Set, that finds no violation.
func Compile(c *Config) (*Set, error) {
	s, ps := compile(c, nil)
	if err := ps.Errors().Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// compiler collects the problems of a Config while it compiles its rules.
type compiler struct {
	ps meshwatch.Problems
}

func (cc *compiler) errf(path, format string, args ...any) {
	cc.ps = append(cc.ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (cc *compiler) warnf(path, format string, args ...any) {
	cc.ps = append(cc.ps, meshwatch.Problem{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

func compile(c *Config, mesh *meshwatch.Config) (*Set, meshwatch.Problems) {
	s := &Set{}
	if c == nil {
		return s, nil
	}
	cc := &compiler{}
	ids := make(map[string]int, len(*c))
	var domains []string
	if mesh != nil {
		for _, p := range mesh.Products {
			if p.Domain != "" && !slices.Contains(domains, p.Domain) {
				domains = append(domains, p.Domain)
			}
		}
		slices.Sort(domains)
	}
	for i := range *c {
		p := &(*c)[i]
		path := meshwatch.IndexPath("policies", i)
		r := cc.rule(p, path)
		if id := p.ID(); id != "" {
			if first, dup := ids[id]; dup {
				what := meshwatch.JoinPath(path, "name")
				if p.Name == "" {
					what = meshwatch.JoinPath(path, "policy")
				}
				cc.errf(what, "duplicate policy ID %s; policies[%d] has it already (give one of them a name:, the ID of its violations)", meshwatch.Quote(id), first)
				r = nil
			} else {
				ids[id] = i
			}
		}
		if mesh != nil {
			for j, d := range p.Scope.Domains {
				if d != "" && !slices.Contains(domains, d) {
					cc.warnf(meshwatch.IndexPath(meshwatch.JoinPath(meshwatch.JoinPath(path, "scope"), "domains"), j),
						"no product has domain %s%s, so the policy applies to none there", meshwatch.Quote(d), meshwatch.DidYouMean(d, domains))
				}
			}
		}
		if r != nil {
			s.rules = append(s.rules, r)
		}
	}
	return s, cc.ps
}

// rule checks and compiles one policy; nil when it has errors.
func (cc *compiler) rule(p *Policy, path string) *rule {
	before := len(cc.ps.Errors())
	kind := p.Policy
	switch {
	case p.Policy == "" && p.Name == "" && p.Expr == "":
		cc.errf(path, "must set policy: (a built-in: %s) or name: and expr: (a custom CEL policy)", strings.Join(builtins, ", "))
		return nil
	case p.Policy != "" && !slices.Contains(builtins, p.Policy):
		cc.errf(meshwatch.JoinPath(path, "policy"), "unknown built-in policy %s%s; built-ins: %s (a custom policy sets name: and expr: instead)",
			meshwatch.Quote(p.Policy), meshwatch.DidYouMean(p.Policy, builtins), strings.Join(builtins, ", "))
		return nil
	}
	if p.Name != "" && !policyName.MatchString(p.Name) {
		cc.errf(meshwatch.JoinPath(path, "name"), "must be lowercase letters, digits, _ and - starting with a letter, at most 63 (it is a metric label), got %s", meshwatch.Quote(p.Name))
	}
	if kind == "" {
		switch {
		case p.Name == "":
			cc.errf(meshwatch.JoinPath(path, "name"), "is required for a custom policy: its ID in violations and metrics, e.g. tier1-needs-runbook")
		case slices.Contains(builtins, p.Name):
			cc.errf(meshwatch.JoinPath(path, "name"), "%s is a built-in policy; write policy: %s to use it, or name the custom policy otherwise", meshwatch.Quote(p.Name), p.Name)
		}
		if strings.TrimSpace(p.Expr) == "" {
			cc.errf(meshwatch.JoinPath(path, "expr"), `is required for a custom policy: a CEL condition that holds for a compliant product, e.g. "product.tier != 1 || product.description != ''"`)
		}
	}
	// Parameters of another policy.
	own := paramsOf[kind]
	for _, pr := range params {
		if !pr.set(p) || slices.Contains(own, pr.key) {
			continue
		}
		what := "policy " + kind
		if kind == "" {
			what = "a custom policy"
		}
		if pr.key == "expr" || pr.key == "message" {
			cc.errf(meshwatch.JoinPath(path, pr.key), "is only for custom policies (name: and expr:, without policy:); %s takes %s", what, list(own))
			continue
		}
		cc.errf(meshwatch.JoinPath(path, pr.key), "is not a parameter of %s; it takes %s", what, list(own))
	}

	r := &rule{id: p.ID(), kind: kind, severity: SeverityError, offline: kind == Naming || kind == Metadata || kind == PII}
	switch p.Severity {
	case "", SeverityError:
	case SeverityWarning:
		r.severity = SeverityWarning
	default:
		sev := []string{SeverityError, SeverityWarning}
		cc.errf(meshwatch.JoinPath(path, "severity"), "must be error or warning, got %s%s", meshwatch.Quote(p.Severity), meshwatch.DidYouMean(p.Severity, sev))
	}
	cc.scope(r, p, path)
	switch kind {
	case Naming:
		r.nameRe = cc.regexp(meshwatch.JoinPath(path, "pattern"), p.Pattern, "product names")
		r.topicRe = cc.regexp(meshwatch.JoinPath(path, "topic_pattern"), p.TopicPattern, "topic names")
		if r.topicRe == nil {
			r.topicRe = r.nameRe
		}
		r.checkTopics = p.Topics == nil || *p.Topics
	case Metadata:
		cc.require(r, p, path)
	case TopicConfig:
		cc.topicConfig(r, p, path)
	case Schema:
		if p.Compatibility != "" {
			c := strings.ToUpper(p.Compatibility)
			if !slices.Contains(compatLevels, c) {
				cc.errf(meshwatch.JoinPath(path, "compatibility"), "must be one of %s; got %s%s", strings.Join(compatLevels, ", "),
					meshwatch.Quote(p.Compatibility), meshwatch.DidYouMean(c, compatLevels))
			}
			r.compat, r.compatBits = c, compatBits(c)
		}
		r.fields = p.Fields == nil || *p.Fields
	case UnownedTopics:
		for j, a := range p.Allow {
			re := cc.regexp(meshwatch.IndexPath(meshwatch.JoinPath(path, "allow"), j), a, "topic names")
			if a == "" {
				cc.errf(meshwatch.IndexPath(meshwatch.JoinPath(path, "allow"), j), `is required: a regular expression over topic names, e.g. "^sandbox\\."`)
			}
			if re != nil {
				r.allow = append(r.allow, re)
			}
		}
		if len(p.Allow) == 0 {
			r.allowText = "none"
		} else {
			r.allowText = strings.Join(p.Allow, ", ")
		}
	case "":
		if strings.TrimSpace(p.Expr) != "" {
			cc.custom(r, p, path)
		}
	}
	if len(cc.ps.Errors()) > before {
		return nil
	}
	return r
}

func list(keys []string) string {
	if len(keys) == 0 {
		return "no parameter"
	}
	return strings.Join(keys, ", ")
}

func (cc *compiler) scope(r *rule, p *Policy, path string) {
	sp := meshwatch.JoinPath(path, "scope")
	if p.Policy == UnownedTopics && (p.Scope.Domains != nil || p.Scope.Tiers != nil) {
		cc.errf(sp, "does not apply to unowned_topics: an unowned topic has no product, so no domain or tier")
		return
	}
	for j, d := range p.Scope.Domains {
		if d == "" {
			cc.errf(meshwatch.IndexPath(meshwatch.JoinPath(sp, "domains"), j), "is required: a product domain, e.g. checkout")
		}
	}
	for j, t := range p.Scope.Tiers {
		if t < 1 || t > 3 {
			cc.errf(meshwatch.IndexPath(meshwatch.JoinPath(sp, "tiers"), j), "must be 1, 2 or 3, got %d", t)
		}
	}
	r.domains, r.tiers = p.Scope.Domains, p.Scope.Tiers
}

func (cc *compiler) require(r *rule, p *Policy, path string) {
	if len(p.Require) == 0 {
		r.require = requirements
		return
	}
	rp := meshwatch.JoinPath(path, "require")
	for j, q := range p.Require {
		switch {
		case !slices.Contains(requirements, q):
			cc.errf(meshwatch.IndexPath(rp, j), "must be one of %s; got %s%s", strings.Join(requirements, ", "), meshwatch.Quote(q), meshwatch.DidYouMean(q, requirements))
		case slices.Contains(p.Require[:j], q):
			cc.errf(meshwatch.IndexPath(rp, j), "duplicate requirement %s", meshwatch.Quote(q))
		default:
			r.require = append(r.require, q)
		}
	}
}

func (cc *compiler) topicConfig(r *rule, p *Policy, path string) {
	if p.MinReplicationFactor < 0 {
		cc.errf(meshwatch.JoinPath(path, "min_replication_factor"), "must be at least 1 (0 does not check), got %d", p.MinReplicationFactor)
	}
	if p.MinInsyncReplicas < 0 {
		cc.errf(meshwatch.JoinPath(path, "min_insync_replicas"), "must be at least 1 (0 does not check), got %d", p.MinInsyncReplicas)
	}
	r.minRF, r.minISR = p.MinReplicationFactor, p.MinInsyncReplicas
	r.retention = p.RetentionCoversReplay == nil || *p.RetentionCoversReplay
	r.cleanup = p.CleanupPolicyMatchesKind == nil || *p.CleanupPolicyMatchesKind
	if b := p.Partitions; b != nil {
		bp := meshwatch.JoinPath(path, "partitions")
		switch {
		case b.Min < 0:
			cc.errf(meshwatch.JoinPath(bp, "min"), "must be at least 1 (0 leaves it open), got %d", b.Min)
		case b.Max < 0:
			cc.errf(meshwatch.JoinPath(bp, "max"), "must be at least 1 (0 leaves it open), got %d", b.Max)
		case b.Min == 0 && b.Max == 0:
			cc.errf(bp, "must set min, max or both, e.g. {min: 1, max: 100}")
		case b.Max != 0 && b.Max < b.Min:
			cc.errf(meshwatch.JoinPath(bp, "max"), "must be at least min (%d), got %d", b.Min, b.Max)
		}
		r.partMin, r.partMax = b.Min, b.Max
	}
	if r.minRF == 0 && r.minISR == 0 && !r.retention && !r.cleanup && p.Partitions == nil {
		cc.errf(path, "checks nothing: set min_replication_factor, min_insync_replicas, partitions, or leave retention_covers_replay or cleanup_policy_matches_kind at true")
	}
}

// regexp compiles pattern (of what it matches), "" giving nil.
func (cc *compiler) regexp(path, pattern, of string) *regexp.Regexp {
	if pattern == "" {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		cc.errf(path, "must be a regular expression over %s (RE2 syntax), got %s: %s", of, meshwatch.Quote(pattern), meshwatch.RegexpError(err, pattern))
		return nil
	}
	return re
}

// Compatibility as bits: a subject's level satisfies a required one when
// it has all of its bits. FULL is backward and forward; *_TRANSITIVE adds
// transitive to its base; NONE is nothing.
const (
	compatBackward = 1 << iota
	compatForward
	compatTransitive
)

func compatBits(level string) int {
	b := 0
	base, transitive := strings.CutSuffix(level, "_TRANSITIVE")
	switch base {
	case "BACKWARD":
		b = compatBackward
	case "FORWARD":
		b = compatForward
	case "FULL":
		b = compatBackward | compatForward
	}
	if transitive && b != 0 {
		b |= compatTransitive
	}
	return b
}
