package policy

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"

	"github.com/meshwatch/meshwatch"
)

func itoa(i int) string { return strconv.Itoa(i) }

// naming checks the product's name and its named topics.
func (e *eval) naming(r *rule, p *meshwatch.Product) {
	switch {
	case r.nameRe != nil:
		if !r.nameRe.MatchString(p.Name) {
			e.add(r, p.Name, "", fmt.Sprintf("product %s does not match the naming pattern %s", p.Name, r.nameRe))
		}
	default:
		if why := lintName(p.Name, p.Domain, false); why != "" {
			e.add(r, p.Name, "", fmt.Sprintf("product %s does not follow <domain>.<entity>.<event>: %s", p.Name, why))
		}
	}
	if !r.checkTopics {
		return
	}
	for _, sel := range p.Topics {
		if sel.Pattern != "" {
			continue // a pattern names no topic
		}
		switch {
		case r.topicRe != nil:
			if !r.topicRe.MatchString(sel.Name) {
				e.add(r, p.Name, sel.Name, fmt.Sprintf("topic %s does not match the naming pattern %s", sel.Name, r.topicRe))
			}
		default:
			if why := lintName(sel.Name, p.Domain, true); why != "" {
				e.add(r, p.Name, sel.Name, fmt.Sprintf("topic %s does not follow <domain>.<entity>.<event>[.<suffix>]: %s", sel.Name, why))
			}
		}
	}
}

// lintName says why name does not follow <domain>.<entity>.<event> (and
// more segments after it, with more), or "" when it does.
func lintName(name, domain string, more bool) string {
	n := strings.Count(name, ".") + 1
	switch {
	case more && n < 3:
		return fmt.Sprintf("want at least 3 dot-separated segments, got %d", n)
	case !more && n != 3:
		return fmt.Sprintf("want 3 dot-separated segments, got %d", n)
	}
	rest := name
	for first := true; ; first = false {
		seg, tail, found := strings.Cut(rest, ".")
		if !segment(seg) {
			return fmt.Sprintf("segment %s must be lowercase letters, digits, _ or -", meshwatch.Quote(seg))
		}
		if first && domain != "" && seg != domain {
			return fmt.Sprintf("the first segment must be the domain %s, got %s", meshwatch.Quote(domain), meshwatch.Quote(seg))
		}
		if !found {
			return ""
		}
		rest = tail
	}
}

func segment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// metadata checks what the product must declare.
func (e *eval) metadata(r *rule, p *meshwatch.Product) {
	for _, q := range r.require {
		switch q {
		case RequireOwnerChannel:
			const want = "required: an owner with a Slack channel"
			o, ok := e.ownerOf(p)
			switch {
			case p.Owner == "":
				e.add(r, p.Name, "", fmt.Sprintf("product %s has no owner; %s", p.Name, want))
			case !ok:
				e.add(r, p.Name, "", fmt.Sprintf("owner %s of product %s is not declared under owners; %s", p.Owner, p.Name, want))
			case o.SlackChannel == "":
				e.add(r, p.Name, "", fmt.Sprintf("owner %s of product %s has no slack_channel; %s", p.Owner, p.Name, want))
			}
		case RequireTier:
			if p.Tier < 1 || p.Tier > 3 {
				e.add(r, p.Name, "", fmt.Sprintf("product %s has tier %d; required: a tier of 1, 2 or 3", p.Name, p.Tier))
			}
		case RequireDescription:
			if strings.TrimSpace(p.Description) == "" {
				e.add(r, p.Name, "", fmt.Sprintf("product %s has no description; required: a description", p.Name))
			}
		case RequireSLO:
			if len(p.SLOs) == 0 {
				e.add(r, p.Name, "", fmt.Sprintf("product %s declares no SLO; required: at least one SLO", p.Name))
			}
		case RequireContractVersion:
			if strings.TrimSpace(p.Version) == "" {
				e.add(r, p.Name, "", fmt.Sprintf("product %s has no version; required: a contract version (version:, or its ODCS contract's version)", p.Name))
			}
		}
	}
}

// topicConfig checks the configuration of the product's topics: those it
// names (a missing one is reported once) and those its patterns select.
func (e *eval) topicConfig(r *rule, p *meshwatch.Product) {
	for _, sel := range p.Topics {
		if sel.Pattern != "" {
			continue
		}
		t, ok := e.topic(sel.Name)
		if !ok {
			e.add(r, p.Name, sel.Name, "topic "+sel.Name+" does not exist")
			continue
		}
		e.checkTopic(r, p, sel.Name, &t)
	}
	for _, name := range e.matchedTopics(p) {
		t, _ := e.topic(name)
		e.checkTopic(r, p, name, &t)
	}
}

func (e *eval) checkTopic(r *rule, p *meshwatch.Product, name string, t *Topic) {
	if r.minRF > 0 && t.ReplicationFactor < r.minRF {
		e.add(r, p.Name, name, fmt.Sprintf("topic %s has replication factor %d; %s need at least %d", name, t.ReplicationFactor, r.who(p), r.minRF))
	}
	if r.minISR > 0 {
		switch v, ok := intConfig(t, "min.insync.replicas"); {
		case !ok:
			e.add(r, p.Name, name, fmt.Sprintf("topic %s has no min.insync.replicas in its configuration; %s need at least %d", name, r.who(p), r.minISR))
		case v < int64(r.minISR):
			e.add(r, p.Name, name, fmt.Sprintf("topic %s has min.insync.replicas=%d; %s need at least %d", name, v, r.who(p), r.minISR))
		}
	}
	cp, hasCP := t.Configs["cleanup.policy"]
	del, compact := cleanupPolicy(cp)
	if r.retention && p.ReplayWindow > 0 && !(compact && !del) {
		// A topic that is compacted only keeps the latest value of every
		// key for ever: its retention.ms does not apply.
		replay := formatDuration(p.ReplayWindow.Std())
		switch ms, ok := intConfig(t, "retention.ms"); {
		case !ok:
			e.add(r, p.Name, name, fmt.Sprintf("topic %s has no retention.ms in its configuration; the product promises a replay window of %s", name, replay))
		case ms < 0 || ms >= math.MaxInt64/int64(time.Millisecond):
			// -1: infinite retention.
		case time.Duration(ms)*time.Millisecond < p.ReplayWindow.Std():
			e.add(r, p.Name, name, fmt.Sprintf("retention of %s is %s (retention.ms=%d); the product promises a replay window of %s",
				name, formatDuration(time.Duration(ms)*time.Millisecond), ms, replay))
		}
	}
	if r.cleanup {
		kind, want, ok := p.Kind, "delete", !compact && del
		switch kind {
		case meshwatch.KindState:
			want, ok = "compact (or compact,delete)", compact
		case "":
			kind = meshwatch.KindEvents
		}
		switch {
		case !hasCP:
			e.add(r, p.Name, name, fmt.Sprintf("topic %s has no cleanup.policy in its configuration; a product of kind %s needs %s", name, kind, want))
		case !ok:
			e.add(r, p.Name, name, fmt.Sprintf("topic %s has cleanup.policy=%s; a product of kind %s needs %s", name, cp, kind, want))
		}
	}
	if r.partMin > 0 && t.Partitions < r.partMin {
		e.add(r, p.Name, name, fmt.Sprintf("topic %s has %s; %s need at least %d", name, partitions(t.Partitions), r.who(p), r.partMin))
	}
	if r.partMax > 0 && t.Partitions > r.partMax {
		e.add(r, p.Name, name, fmt.Sprintf("topic %s has %s; %s need at most %d", name, partitions(t.Partitions), r.who(p), r.partMax))
	}
}

func partitions(n int) string {
	if n == 1 {
		return "1 partition"
	}
	return itoa(n) + " partitions"
}

// intConfig reads a whole-number configuration value of t.
func intConfig(t *Topic, key string) (int64, bool) {
	s, ok := t.Configs[key]
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return v, err == nil
}

// cleanupPolicy reads a cleanup.policy: "delete", "compact" or both,
// comma-separated.
func cleanupPolicy(s string) (del, compact bool) {
	for s != "" {
		var v string
		v, s, _ = strings.Cut(s, ",")
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "delete":
			del = true
		case "compact":
			compact = true
		}
	}
	return del, compact
}

// formatDuration writes d in days, hours, minutes and seconds: 7d, 1d12h,
// 90s as 1m30s; other durations as Go does.
func formatDuration(d time.Duration) string {
	if d <= 0 || d%time.Second != 0 {
		return d.String()
	}
	var b strings.Builder
	for _, u := range [...]struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.s)
			d -= n * u.d
		}
	}
	return b.String()
}

// schema checks the registry subjects of an Avro or Protobuf product's
// topics (<topic>-value).
func (e *eval) schema(r *rule, p *meshwatch.Product) {
	if !p.UsesRegistry() || e.c.Subjects == nil {
		return
	}
	for _, sel := range p.Topics {
		if sel.Pattern == "" {
			e.subject(r, p, sel.Name)
		}
	}
	for _, name := range e.matchedTopics(p) {
		e.subject(r, p, name)
	}
}

func (e *eval) subject(r *rule, p *meshwatch.Product, topic string) {
	s, ok := e.subjectOf(topic)
	if !ok {
		// Not read: not asked for, or the registry did not answer.
		// Unknown is not missing.
		return
	}
	name := s.Name
	if !s.Exists {
		name = meshwatch.ValueSubject(topic)
		e.add(r, p.Name, topic, fmt.Sprintf("subject %s does not exist in the schema registry; a product of format %s needs its schema registered", name, p.Format))
		return
	}
	if r.compatBits != 0 {
		// No level read (the registry did not answer that request):
		// unknown, not a violation.
		switch level := strings.ToUpper(s.Compatibility); {
		case level == "":
		case compatBits(level)&r.compatBits != r.compatBits:
			e.add(r, p.Name, topic, fmt.Sprintf("subject %s has compatibility %s; %s need at least %s", name, level, r.who(p), r.compat))
		}
	}
	if !r.fields || len(s.Fields) == 0 {
		return
	}
	check := func(field, where string) {
		if field != "" && !hasField(s.Fields, field) {
			e.add(r, p.Name, topic, fmt.Sprintf("the latest schema of subject %s (version %d) has no field %s; the product's %s references it", name, s.Version, field, where))
		}
	}
	seen := func(field string, upTo int) bool { return slices.Contains(p.Quality.Required[:upTo], field) }
	for i, f := range p.Quality.Required {
		if !seen(f, i) {
			check(f, "quality.required")
		}
	}
	all := len(p.Quality.Required)
	if f := p.EventTime.Field; !seen(f, all) {
		check(f, "event_time.field")
	}
	for i, f := range p.PII {
		if !seen(f, all) && f != p.EventTime.Field && !slices.Contains(p.PII[:i], f) {
			check(f, "pii")
		}
	}
	if q := p.Quality.Sequence; q != nil {
		check(q.Field, "quality.sequence.field")
		check(q.Key, "quality.sequence.key")
	}
}

// hasField reports whether the schema's fields hold field, or fields
// nested under it.
func hasField(fields []string, field string) bool {
	for _, f := range fields {
		if f == field || len(f) > len(field) && f[len(field)] == '.' && f[:len(field)] == field {
			return true
		}
	}
	return false
}

// pii checks a product that holds personal data: no header it reads names
// a PII field, and (online) no ACL lets everyone read its topics.
func (e *eval) pii(r *rule, p *meshwatch.Product) {
	if len(p.PII) == 0 {
		return
	}
	if h := p.EventTime.Header; h != "" {
		if f := piiNamed(p.PII, h); f != "" {
			e.add(r, p.Name, "", fmt.Sprintf("event_time.header %s of product %s names the PII field %s; PII must stay out of record headers", meshwatch.Quote(h), p.Name, f))
		}
	}
	for _, rl := range p.Quality.Rules {
		for _, h := range ruleHeaders(rl.Expr) {
			if f := piiNamed(p.PII, h); f != "" {
				e.add(r, p.Name, "", fmt.Sprintf("quality rule %s reads header %s, which names the PII field %s; PII must stay out of record headers", rl.Name, meshwatch.Quote(h), f))
			}
		}
	}
	if !e.online {
		return
	}
	if e.c.Subjects != nil {
		// Keys: a product's <topic>-key subject, where the registry has
		// one (a plain string key has none), must hold no PII field.
		e.forTopics(p, false, func(topic string) {
			s, ok := e.c.Subjects[meshwatch.KeySubject(topic)]
			if !ok || !s.Exists {
				return
			}
			for _, f := range p.PII {
				if hasField(s.Fields, f) || slices.Contains(s.Fields, lastSegment(f)) {
					e.add(r, p.Name, topic, fmt.Sprintf("the key schema of topic %s (subject %s, version %d) has field %s, which the product's pii lists; PII must stay out of record keys", topic, s.Name, s.Version, f))
				}
			}
		})
	}
	if e.c.ACLs == nil {
		e.addSev(r, SeverityWarning, p.Name, "", fmt.Sprintf("cannot tell whether User:* may read the topics of product %s, which holds PII (%s): the cluster did not describe its ACLs (no authorizer, or the agent may not describe ACLs)", p.Name, fieldList(p.PII)))
		return
	}
	e.forTopics(p, true, func(topic string) {
		if a, ok := e.publicRead(topic); ok {
			e.add(r, p.Name, topic, fmt.Sprintf("topic %s holds PII (%s) and an ACL allows %s to User:* (%s on %s %s); products holding PII must not be readable by everyone",
				topic, fieldList(p.PII), strings.ToUpper(a.Operation), strings.ToUpper(a.Permission), patternType(a), meshwatch.Quote(a.ResourceName)))
		}
	})
}

// lastSegment is the last dotted segment of a field path: a key that is a
// bare "email" holds customer.email.
func lastSegment(f string) string {
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		return f[i+1:]
	}
	return f
}

func patternType(a ACL) string {
	if a.PatternType == "" {
		return "LITERAL"
	}
	return strings.ToUpper(a.PatternType)
}

// forTopics calls f with each topic of p, named or selected by a pattern,
// and, with dlq, each of its DLQ topics, once each.
func (e *eval) forTopics(p *meshwatch.Product, dlq bool, f func(topic string)) {
	for i, sel := range p.Topics {
		if sel.Pattern == "" && !slices.ContainsFunc(p.Topics[:i], func(s meshwatch.TopicSelector) bool { return s.Pattern == "" && s.Name == sel.Name }) {
			f(sel.Name)
		}
	}
	for _, name := range e.matchedTopics(p) {
		f(name)
	}
	if !dlq {
		return
	}
	for i, d := range p.DLQTopics {
		if !names(p, d) && !slices.Contains(e.matched, d) && !slices.Contains(p.DLQTopics[:i], d) {
			f(d)
		}
	}
}

// fieldList lists fields for a why-text: three at most.
func fieldList(fields []string) string {
	if len(fields) <= 3 {
		return strings.Join(fields, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(fields[:3], ", "), len(fields)-3)
}

// piiNamed returns the PII field that header names, or "": the header
// equals the field's dotted path or its last segment, ignoring case, with
// - and _ alike.
func piiNamed(pii []string, header string) string {
	for _, f := range pii {
		last := f[strings.LastIndexByte(f, '.')+1:]
		if sameName(f, header) || sameName(last, header) {
			return f
		}
	}
	return ""
}

func sameName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := fold(a[i]), fold(b[i])
		if x != y {
			return false
		}
	}
	return true
}

func fold(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '-':
		return '_'
	}
	return c
}

// headerRef finds the headers a quality rule indexes literally:
// headers['x-email'], headers["x-email"], headers[?'x'] or headers.email.
var headerRef = regexp.MustCompile(`\bheaders\s*(?:\[\s*\??\s*(?:'([^']*)'|"([^"]*)")\s*\]|\.\s*([A-Za-z_][A-Za-z0-9_]*))`)

// ruleHeaders returns the header names that expr reads literally.
func ruleHeaders(expr string) []string {
	if !strings.Contains(expr, "headers") {
		return nil
	}
	var out []string
	for _, m := range headerRef.FindAllStringSubmatch(expr, -1) {
		h := m[1] + m[2] + m[3]
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// unowned reports the cluster's topics that no product claims, by name,
// pattern or as a DLQ topic, and that the allow-list does not match.
func (e *eval) unowned(r *rule) {
	claimed := make(map[string]struct{}, len(e.mesh.Products)*2)
	for i := range e.mesh.Products {
		p := &e.mesh.Products[i]
		for _, sel := range p.Topics {
			if sel.Pattern == "" {
				claimed[sel.Name] = struct{}{}
			} else {
				e.forMatches(sel, func(i int) { claimed[e.sorted[i]] = struct{}{} })
			}
		}
		for _, d := range p.DLQTopics {
			claimed[d] = struct{}{}
		}
	}
next:
	for name := range e.c.Topics {
		if _, ok := claimed[name]; ok || strings.HasPrefix(name, "__") {
			continue
		}
		for _, re := range r.allow {
			if re.MatchString(name) {
				continue next
			}
		}
		e.add(r, "", name, fmt.Sprintf("topic %s belongs to no product (allow-list: %s)", name, r.allowText))
	}
}

// custom evaluates a custom policy on p.
func (e *eval) custom(r *rule, p *meshwatch.Product) {
	a := e.activation(r.uses)
	out, _, err := r.prg.Eval(a)
	if err != nil {
		e.add(r, p.Name, "", fmt.Sprintf("policy %s could not be evaluated for product %s: %v", r.id, p.Name, err))
		return
	}
	ok, isBool := out.Value().(bool)
	switch {
	case !isBool:
		e.add(r, p.Name, "", fmt.Sprintf("policy %s could not be evaluated for product %s: its expression gave %s, not a bool", r.id, p.Name, out.Type().TypeName()))
	case !ok:
		a = e.activation(usesTopics | usesSubject | usesACLs)
		why := fmt.Sprintf("product %s does not satisfy policy %s: %s", p.Name, r.id, r.expr)
		if len(r.msg) > 0 {
			why = r.msg.render(a)
		}
		e.add(r, p.Name, "", why)
	}
}

// activation returns the variables of the product being evaluated, with
// what uses needs filled in: each is built once per product, in buffers
// that the evaluation reuses from product to product.
func (e *eval) activation(uses int) *activation {
	p, a := e.p, &e.act
	if !e.actDone {
		e.actDone = true
		e.productObject(p)
		*a = activation{product: &e.prod, topics: e.topicObjs[:0], subject: types.NullValue, acls: &e.acls}
		e.acls = ACLSummary{}
	}
	if !e.online {
		return a
	}
	need := uses &^ a.built
	a.built |= uses
	if need&usesTopics != 0 {
		e.forTopics(p, false, func(name string) {
			if t, ok := e.topic(name); ok {
				a.topics = append(a.topics, t)
			}
		})
		e.topicObjs = a.topics
	}
	if need&usesSubject != 0 && e.c.Subjects != nil && p.UsesRegistry() {
		first := ""
		e.forTopics(p, false, func(name string) {
			if first == "" {
				first = name
			}
		})
		// A subject not read (the registry did not answer) stays null:
		// unknown, not missing.
		if s, ok := e.subjectOf(first); first != "" && ok {
			e.subj = s
			a.subject = &e.subj
		}
	}
	if need&usesACLs != 0 && e.c.ACLs != nil {
		e.acls.Known = true
		e.forTopics(p, true, func(name string) {
			if _, ok := e.publicRead(name); ok {
				e.acls.PublicRead = true
			}
		})
	}
	return a
}

// productObject fills e.prod, product in a custom policy's expression,
// with p.
func (e *eval) productObject(p *meshwatch.Product) {
	o := &e.prod
	*o = Product{
		Name: p.Name, Domain: p.Domain, Owner: p.Owner, Tier: p.Tier, Description: p.Description,
		Version: p.Version, Kind: p.Kind, Format: p.Format,
		ReplayWindowSeconds: int(p.ReplayWindow.Std() / time.Second),
		PII:                 p.PII, DLQTopics: p.DLQTopics, Deprecated: p.Deprecated != nil, Contract: p.Contract,
		SLOs: e.slos[:0], Topics: e.names[:0], TopicPatterns: e.patterns[:0],
	}
	if o.PII == nil {
		o.PII = []string{}
	}
	if o.DLQTopics == nil {
		o.DLQTopics = []string{}
	}
	if ow, ok := e.ownerOf(p); ok {
		o.OwnerChannel = ow.SlackChannel
	}
	for _, s := range p.SLOs {
		o.SLOs = append(o.SLOs, SLO{Name: s.Name, SLI: s.SLI})
	}
	for _, sel := range p.Topics {
		if sel.Pattern != "" {
			o.TopicPatterns = append(o.TopicPatterns, sel.Pattern)
		} else {
			o.Topics = append(o.Topics, sel.Name)
		}
	}
	e.slos, e.names, e.patterns = o.SLOs, o.Topics, o.TopicPatterns
}
