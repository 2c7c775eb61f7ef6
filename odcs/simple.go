package odcs

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/yamlconf"
)

// simpleKey is the key of the simple contract form.
const simpleKey = "contract"

// The simple contract form of the data-mesh literature: one mapping under
// contract:, without kind or apiVersion.
type (
	simpleFile struct {
		Contract simpleContract `yaml:"contract"`
	}

	simpleContract struct {
		Name        string        `yaml:"name"`
		Owner       string        `yaml:"owner"`
		Domain      string        `yaml:"domain"`
		Topic       string        `yaml:"topic"`
		Description string        `yaml:"description"`
		Tier        odcsValue     `yaml:"tier"`
		Version     odcsValue     `yaml:"version"`
		Tags        odcsIgnored   `yaml:"tags"`
		Schema      simpleSchema  `yaml:"schema"`
		SLA         odcsValue     `yaml:"sla"`
		Quality     simpleQuality `yaml:"quality"`
	}

	simpleSchema struct {
		Format        string      `yaml:"format"`
		Version       odcsIgnored `yaml:"version"`
		Compatibility odcsIgnored `yaml:"compatibility"`
	}

	simpleQuality struct {
		Completeness  odcsValue   `yaml:"completeness"`
		ValidityRules []odcsValue `yaml:"validity_rules"`
		Accuracy      odcsValue   `yaml:"accuracy"`
		Consistency   odcsValue   `yaml:"consistency"`
		Uniqueness    odcsValue   `yaml:"uniqueness"`
		Timeliness    odcsValue   `yaml:"timeliness"`
	}
)

// loadSimple reads a contract in the simple form as a product.
func loadSimple(file string, data []byte, root *yaml.Node) (*Contract, meshwatch.Problems) {
	d := yamlconf.NewDecoder(file, nil)
	d.Literal = true
	var doc simpleFile
	d.Decode(root, reflect.ValueOf(&doc).Elem(), "")
	if d.TooLarge {
		return nil, d.Problems
	}
	c := &Contract{File: file, links: make(map[string]string)}
	m := &contractMapper{d: d, root: root, doc: &odcsContract{}, c: c, p: &c.Product, simple: &doc, data: data}
	m.buildSimple()
	c.pos, c.failed = d.Pos, d.Failed
	return c, d.Problems
}

func (m *contractMapper) buildSimple() {
	sc, p := &m.simple.Contract, m.p
	p.Contract = m.c.File
	m.init()
	m.objective, _ = meshwatch.ParsePercent(defaultContractObjective)
	at := func(key string) string { return simpleKey + "." + key }

	p.Name = sc.Name
	m.link(".name", at("name"))
	if sc.Name == "" {
		m.errf(at("name"), "is required: the product's name, e.g. order-events-v1")
	}
	m.link(".owner", at("owner"))
	if sc.Owner == "" {
		m.errf(at("owner"), "is required: the team that owns the product (a key of owners, or a new owner)")
	} else {
		p.Owner, m.c.Team, m.c.teamPath = sc.Owner, sc.Owner, at("owner")
	}
	m.simpleDomain()
	if sc.Description != "" {
		p.Description = sc.Description
		m.link(".description", at("description"))
	}
	if v := resolve(sc.Version.n); sc.Version.set() {
		if v.Kind != yaml.ScalarNode {
			m.errf(at("version"), "must be the contract's version, like 1.2.0; got %s", yamlconf.Describe(v))
		} else {
			p.Version = strings.TrimSpace(v.Value)
			m.link(".version", at("version"))
		}
	}
	if v := resolve(sc.Tier.n); sc.Tier.set() {
		t, err := strconv.Atoi(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			m.errf(at("tier"), "must be 1, 2 or 3 (1 pages, 2 business hours, 3 best effort), got %s", yamlconf.Describe(v))
		} else {
			p.Tier = t
			m.link(".tier", at("tier"))
		}
	}
	topic, tsrc := sc.Topic, at("topic")
	if topic == "" {
		topic, tsrc = sc.Name, at("name")
	}
	m.link(".topics", tsrc)
	if topic != "" {
		p.Topics = []meshwatch.TopicSelector{{Name: topic}}
		m.link(".topics[0]", tsrc)
	}
	p.Format = meshwatch.FormatJSON
	if f := sc.Schema.Format; f != "" {
		fsrc := at("schema.format")
		m.link(".format", fsrc)
		switch v := strings.ToLower(f); v {
		case meshwatch.FormatJSON, meshwatch.FormatAvro, meshwatch.FormatProtobuf:
			p.Format = v
		default:
			m.unsupported(fsrc, "format %s cannot be decoded (json, avro or protobuf); records are read raw and their checks cannot run", meshwatch.Quote(f))
			p.Format = meshwatch.FormatRaw
		}
	}
	m.link(".quality", at("quality"))
	m.simpleQuality()
	m.simpleSLA()
	m.finishRules()
	m.finishSLOs()
	m.reportIgnored()
}

// simpleDomain sets the product's domain: domain:, else the first segment
// of a dotted name (orders.order.placed), else the owner without a trailing
// -team and -domain (orders-domain-team gives orders), which a warning
// says.
func (m *contractMapper) simpleDomain() {
	sc := &m.simple.Contract
	src := simpleKey + ".domain"
	if sc.Domain != "" {
		m.p.Domain = sc.Domain
		m.link(".domain", src)
		return
	}
	dom, from, fsrc := "", "", ""
	if i := strings.IndexByte(sc.Name, '.'); i > 0 {
		dom, from, fsrc = sc.Name[:i], "the first segment of name", simpleKey+".name"
	} else if sc.Owner != "" {
		dom, from, fsrc = ownerDomain(sc.Owner), "owner "+meshwatch.Quote(sc.Owner), simpleKey+".owner"
	}
	if dom == "" {
		m.errf(src, "is required here: the product's domain, e.g. orders (it is derived from a name like orders.order.placed, or an owner like orders-team)")
		return
	}
	m.p.Domain = dom
	m.link(".domain", fsrc)
	m.d.Problems = append(m.d.Problems, meshwatch.Problem{Pos: m.d.Position(fsrc), Path: src, Warning: true,
		Msg: fmt.Sprintf("is not set: the product's domain is %s, from %s; set domain: to choose another", meshwatch.Quote(dom), from)})
}

// ownerDomain is the domain of a team: its name without the suffixes
// -team, -squad and -domain (or with _ or a space).
func ownerDomain(owner string) string {
	d := strings.ToLower(strings.TrimSpace(owner))
	for trimmed := true; trimmed; {
		trimmed = false
		for _, suffix := range []string{"team", "squad", "domain"} {
			for _, sep := range []string{"-", "_", " "} {
				if s := strings.TrimSuffix(d, sep+suffix); s != d && s != "" {
					d, trimmed = s, true
				}
			}
		}
	}
	return d
}

// simpleDimensions are the quality dimensions of the literature that
// meshwatch does not measure, with the reason.
var simpleDimensions = []struct{ key, why string }{
	{"accuracy", "accuracy compares values with the real world; meshwatch checks records against rules: write validity_rules"},
	{"consistency", "consistency compares datasets with each other; meshwatch checks the records of one product"},
	{"uniqueness", "uniqueness over a whole stream needs every value ever seen; meshwatch detects duplicates only by producer sequence numbers (quality.sequence in the configuration)"},
	{"timeliness", "timeliness is promised by sla.freshness and sla.latency_p99"},
}

// simpleQuality reads quality: validity_rules, SQL conditions that become
// rules, and completeness, the objective of the completeness of the fields
// that the rules require ("customer_id is not null").
func (m *contractMapper) simpleQuality() {
	q := &m.simple.Contract.Quality
	base := simpleKey + ".quality"
	rules := meshwatch.JoinPath(base, "validity_rules")
	for i, r := range q.ValidityRules {
		m.validityRule(meshwatch.IndexPath(rules, i), resolve(r.n))
	}
	if q.Completeness.set() {
		csrc := meshwatch.JoinPath(base, "completeness")
		m.simpleObjective(meshwatch.SLICompleteness, csrc, resolve(q.Completeness.n))
	}
	dims := map[string]odcsValue{"accuracy": q.Accuracy, "consistency": q.Consistency, "uniqueness": q.Uniqueness, "timeliness": q.Timeliness}
	for _, dim := range simpleDimensions {
		if dims[dim.key].set() {
			m.unsupported(meshwatch.JoinPath(base, dim.key), "%s", dim.why)
		}
	}
}

// validityRule reads a SQL condition of validity_rules at src as a rule; the
// fields it requires to be there (a top-level "f IS NOT NULL") are
// required fields, which completeness counts.
func (m *contractMapper) validityRule(src string, n *yaml.Node) {
	if n == nil || n.Kind != yaml.ScalarNode || yamlconf.IsNull(n) || strings.TrimSpace(n.Value) == "" {
		m.errf(src, "must be a condition in SQL, like \"order_total > 0\" or \"customer_id is not null\"; got %s", yamlconf.Describe(n))
		return
	}
	e, err := parseSQL(n.Value)
	if err != nil {
		var se *sqlError
		off := 0
		if errors.As(err, &se) {
			off = se.off
		}
		m.d.Problems = append(m.d.Problems, meshwatch.Problem{Pos: m.scalarPosition(n, off), Path: src, Msg: "invalid condition: " + err.Error()})
		m.d.Failed[src] = true
		return
	}
	m.addRule(src, src, "", "", sqlRuleName(n.Value), sqlToCEL(e, true).s)
	for _, f := range requiredFields(e) {
		if !slices.ContainsFunc(f, func(s string) bool { return strings.Contains(s, ".") }) {
			m.addRequired(f, src)
		}
	}
}

// latencyKey matches the SLA keys latency_p99, latency_p99.9, latency-p95.
var latencyKey = regexp.MustCompile(`^(?i)latency[_-]?(p[0-9.]+)$`)

// simpleSLA reads sla: availability, latency or latency_pNN, freshness,
// completeness and error_rate.
func (m *contractMapper) simpleSLA() {
	base := simpleKey + ".sla"
	n := resolve(m.simple.Contract.SLA.n)
	if n == nil || yamlconf.IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		m.errf(base, "must be a mapping like {availability: 99.9%%, latency_p99: 1000ms, freshness: 60s}; got %s", yamlconf.Describe(n))
		return
	}
	known := []string{"availability", "latency", "latency_p99", "freshness", "completeness", "error_rate"}
	for _, kv := range pairs(n) {
		k, v := kv[0].Value, resolve(kv[1])
		src := meshwatch.JoinPath(base, k)
		m.d.Pos[src] = m.d.At(v)
		sli, pct := "", 0.0
		if mm := latencyKey.FindStringSubmatch(k); mm != nil {
			var ok bool
			if pct, ok = percentile(mm[1]); !ok {
				m.errf(src, "%s is not a percentile above 0 and below 100, like latency_p99 or latency_p99.9", meshwatch.Quote(mm[1]))
				continue
			}
			sli = meshwatch.SLILatency
		} else {
			norm := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
			kind, ok := slaNames[norm]
			switch {
			case !ok:
				m.errf(src, "unknown SLA %s%s; known: %s (any percentile: latency_p95, latency_p99.9...)", meshwatch.Quote(k), meshwatch.DidYouMean(k, known), strings.Join(known, ", "))
				continue
			case kind.sli == "":
				m.unsupported(src, "%s: %s", k, kind.why)
				continue
			}
			sli = kind.sli
		}
		if v == nil || yamlconf.IsNull(v) || v.Kind != yaml.ScalarNode {
			m.errf(src, "must be a single value; got %s", yamlconf.Describe(v))
			continue
		}
		switch sli {
		case meshwatch.SLILatency, meshwatch.SLIFreshness:
			if prev, ok := m.slos[sli]; ok && prev.thresholdSrc != "" {
				m.unsupported(src, "a second %s SLA: meshwatch keeps one %s SLO per product, from %s", sli, sli, prev.thresholdSrc)
				continue
			}
			d, err := meshwatch.ParseDuration(v.Value)
			if err != nil {
				m.errf(src, "must be a duration with a unit, like 1000ms, 60s or 15m; got %s", meshwatch.Quote(v.Value))
				continue
			}
			draft := m.wantSLO(sli, src)
			draft.threshold, draft.thresholdSrc = d, src
			if pct > 0 {
				m.percentileObjective(draft, pct, src)
			}
		default:
			m.simpleObjective(sli, src, v)
		}
	}
}

// simpleObjective reads the percentage v at src as the objective of sli:
// availability, completeness, or validity from an error rate.
func (m *contractMapper) simpleObjective(sli, src string, v *yaml.Node) {
	if v.Kind != yaml.ScalarNode {
		m.errf(src, "must be a percentage like 99.9%%; got %s", yamlconf.Describe(v))
		return
	}
	pct, err := slaPercent(v, "")
	if err != nil {
		m.errf(src, "%s", strings.Replace(err.Error(), " or 99.9 with unit: percent", "", 1))
		return
	}
	if !(pct > 0 && pct < 100) {
		m.errf(src, "must be above 0%% and below 100%%, got %s%%", formatFloat(pct))
		return
	}
	switch sli {
	case meshwatch.SLIValidity:
		m.objectivePercent(sli, 100-pct, src)
	case meshwatch.SLICompleteness:
		if len(m.p.Quality.Required) == 0 {
			m.errf(src, "completeness needs a field that must be there: a validity rule such as \"customer_id is not null\"")
			return
		}
		fallthrough
	default:
		s := m.wantSLO(sli, src)
		if s.objectiveSrc == "" || pct > s.objective {
			s.objective, s.objectiveSrc, s.objectiveText = pct, src, formatFloat(pct)+"%"
		}
	}
}

// scalarPosition returns the position of the byte at offset off of the
// value of scalar n: exact when n is on one line, plain or quoted; else
// n's own position.
func (m *contractMapper) scalarPosition(n *yaml.Node, off int) meshwatch.Position {
	pos := m.d.At(n)
	if cols := valueColumns(m.data, n); off >= 0 && off < len(cols) {
		pos.Col = cols[off]
	}
	return pos
}

// valueColumns maps each byte of the value of scalar n, and the end of
// the value, to its column in data; nil when n is not a plain or quoted
// scalar on one line, or when data does not hold it where n says.
func valueColumns(data []byte, n *yaml.Node) []int {
	if n.Line < 1 || n.Column < 1 {
		return nil
	}
	i := 0
	for line := 1; line < n.Line; line++ {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return nil
		}
		i += j + 1
	}
	for c := 1; c < n.Column; c++ {
		if i >= len(data) || data[i] == '\n' {
			return nil
		}
		_, size := utf8.DecodeRune(data[i:])
		i += size
	}
	col := n.Column
	var val []byte
	var cols []int
	emit := func(s string, at int) {
		for k := 0; k < len(s); k++ {
			cols = append(cols, at)
		}
		val = append(val, s...)
	}
	switch n.Style {
	case 0:
		if !bytes.HasPrefix(data[i:], []byte(n.Value)) || strings.ContainsAny(n.Value, "\n\r") {
			return nil
		}
		for _, r := range n.Value {
			emit(string(r), col)
			col++
		}
		return append(cols, col)
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		quote := data[i]
		if quote != '"' && quote != '\'' {
			return nil
		}
		i++
		col++
		for {
			if i >= len(data) || data[i] == '\n' || data[i] == '\r' {
				return nil
			}
			c := data[i]
			switch {
			case c == quote && quote == '\'' && i+1 < len(data) && data[i+1] == '\'':
				emit("'", col)
				i, col = i+2, col+2
				continue
			case c == quote:
				if string(val) != n.Value {
					return nil
				}
				return append(cols, col)
			case c == '\\' && quote == '"':
				r, width, ok := yamlEscape(data[i:])
				if !ok {
					return nil
				}
				emit(r, col)
				i, col = i+width, col+width // escapes are ASCII
				continue
			}
			_, size := utf8.DecodeRune(data[i:])
			emit(string(data[i:i+size]), col)
			i += size
			col++
		}
	}
	return nil
}

// yamlEscape decodes the escape sequence at the start of b, in a
// double-quoted YAML scalar: the text it stands for and its length.
func yamlEscape(b []byte) (string, int, bool) {
	if len(b) < 2 {
		return "", 0, false
	}
	simple := map[byte]string{'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f",
		'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '/': "/", '\\': "\\", 'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029"}
	if s, ok := simple[b[1]]; ok {
		return s, 2, true
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[1]]
	if digits == 0 || len(b) < 2+digits {
		return "", 0, false
	}
	v, err := strconv.ParseUint(string(b[2:2+digits]), 16, 32)
	if err != nil || !utf8.ValidRune(rune(v)) {
		return "", 0, false
	}
	return string(rune(v)), 2 + digits, true
}
