package policy

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"

	"github.com/meshwatch/meshwatch"
)

// Violation is a product or a topic that breaks a policy.
type Violation struct {
	// Policy is the policy's ID: its name, or the built-in's.
	Policy string `json:"policy"`
	// Product is the product that breaks it; "" for a topic no product
	// claims (unowned_topics).
	Product string `json:"product,omitempty"`
	// Topic is the topic at fault, "" when the violation is the
	// product's.
	Topic string `json:"topic,omitempty"`
	// Severity is the policy's: error or warning.
	Severity string `json:"severity"`
	// Why says what was observed and what the policy requires, in a
	// sentence.
	Why string `json:"why"`
}

// Set is a compiled Config, ready to evaluate. It is safe for concurrent
// use.
type Set struct {
	rules []*rule

	patterns sync.Map // topic pattern → *regexp.Regexp, compiled once
}

// rule is one compiled policy.
type rule struct {
	id, kind, severity string
	domains            []string
	tiers              []int
	// offline: the policy runs without a cluster (naming, metadata, pii's
	// headers, custom policies that read product only).
	offline bool

	// naming
	nameRe, topicRe *regexp.Regexp
	checkTopics     bool
	// metadata
	require []string
	// topic_config
	minRF, minISR      int
	retention, cleanup bool
	partMin, partMax   int
	// schema
	compat     string
	compatBits int
	fields     bool
	// unowned_topics
	allow     []*regexp.Regexp
	allowText string
	// custom
	expr string
	prg  cel.Program
	uses int
	msg  template
}

// IDs returns the IDs of the Set's policies, in the order of the
// configuration.
func (s *Set) IDs() []string {
	if s == nil {
		return nil
	}
	ids := make([]string, len(s.rules))
	for i, r := range s.rules {
		ids[i] = r.id
	}
	return ids
}

// Offline returns the Set of the policies that need no cluster: naming,
// metadata, pii (its header check; the ACL check needs the cluster) and
// the custom policies whose expression reads product only (not topics,
// subject or acls). Evaluate runs those alone on a Cluster that is not
// Online; Offline says which they are.
func (s *Set) Offline() *Set {
	out := &Set{}
	if s == nil {
		return out
	}
	for _, r := range s.rules {
		if r.offline {
			out.rules = append(out.rules, r)
		}
	}
	return out
}

// inScope reports whether product p is in r's scope.
func (r *rule) inScope(p *meshwatch.Product) bool {
	return (len(r.domains) == 0 || slices.Contains(r.domains, p.Domain)) &&
		(len(r.tiers) == 0 || slices.Contains(r.tiers, p.Tier))
}

// who names the products r's scope holds p among, for a why-text:
// "products", "tier-1 products", "tier-1 products of domain checkout".
func (r *rule) who(p *meshwatch.Product) string {
	s := "products"
	if len(r.tiers) > 0 {
		s = "tier-" + itoa(p.Tier) + " products"
	}
	if len(r.domains) > 0 {
		s += " of domain " + p.Domain
	}
	return s
}

// Evaluate evaluates the Set's policies on the products of mesh, which
// must have been validated (its topic patterns compiled), and on c, what
// the cluster says; a nil c, or one that is not Online, runs only the
// policies that need no cluster (Offline). It returns the violations
// sorted by policy, product, topic and why-text; it reads mesh and c and
// changes neither, and is deterministic.
func (s *Set) Evaluate(mesh *meshwatch.Config, c *Cluster) []Violation {
	if s == nil || mesh == nil || len(s.rules) == 0 {
		return nil
	}
	e := &eval{set: s, mesh: mesh, online: c != nil && c.Online}
	if e.online {
		e.c = c
	}
	for i := range mesh.Products {
		p := &mesh.Products[i]
		e.begin(p)
		for _, r := range s.rules {
			if r.kind == UnownedTopics || !e.online && !r.offline || !r.inScope(p) {
				continue
			}
			switch r.kind {
			case Naming:
				e.naming(r, p)
			case Metadata:
				e.metadata(r, p)
			case TopicConfig:
				e.topicConfig(r, p)
			case Schema:
				e.schema(r, p)
			case PII:
				e.pii(r, p)
			default:
				e.custom(r, p)
			}
		}
	}
	if e.online {
		for _, r := range s.rules {
			if r.kind == UnownedTopics {
				e.unowned(r)
			}
		}
	}
	slices.SortFunc(e.out, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.Policy, b.Policy), strings.Compare(a.Product, b.Product),
			strings.Compare(a.Topic, b.Topic), strings.Compare(a.Why, b.Why))
	})
	return e.out
}

// eval is one evaluation: its inputs, what it computed of them once, and
// its violations.
type eval struct {
	set    *Set
	mesh   *meshwatch.Config
	c      *Cluster // nil offline
	online bool
	out    []Violation

	sorted     []string // the cluster's topic names, sorted; on demand
	sortedDone bool
	public     []ACL // the ACLs that allow User:* to read; on demand
	publicDone bool

	// Of the product being evaluated, on demand.
	p           *meshwatch.Product
	matched     []string // cluster topics its patterns select, not named
	matchedDone bool
	owner       meshwatch.Owner
	ownerOK     bool
	ownerDone   bool
	// The latest topic looked up, which the policies of a product look up
	// in turn.
	lastTopic   string
	lastTopicV  Topic
	lastTopicOK bool
	lastDone    bool
	key         []byte // a subject's name, built

	// The variables of custom policies, of the product being evaluated,
	// in buffers reused from product to product.
	act       activation
	actDone   bool
	prod      Product
	subj      Subject
	acls      ACLSummary
	slos      []SLO
	names     []string
	patterns  []string
	topicObjs []Topic
}

func (e *eval) begin(p *meshwatch.Product) {
	e.p, e.matched, e.matchedDone, e.ownerDone, e.lastDone, e.actDone = p, e.matched[:0], false, false, false, false
}

// topic looks a topic of the cluster up.
func (e *eval) topic(name string) (Topic, bool) {
	if !e.lastDone || e.lastTopic != name {
		e.lastDone = true
		e.lastTopic = name
		e.lastTopicV, e.lastTopicOK = e.c.Topics[name]
	}
	return e.lastTopicV, e.lastTopicOK
}

// subjectOf looks the subject of topic (<topic>-value) up.
func (e *eval) subjectOf(topic string) (Subject, bool) {
	e.key = append(append(e.key[:0], topic...), "-value"...)
	s, ok := e.c.Subjects[string(e.key)]
	return s, ok
}

// ownerOf looks p's owner up.
func (e *eval) ownerOf(p *meshwatch.Product) (meshwatch.Owner, bool) {
	if !e.ownerDone {
		e.ownerDone = true
		e.owner, e.ownerOK = e.mesh.Owners[p.Owner]
	}
	return e.owner, e.ownerOK
}

func (e *eval) add(r *rule, product, topic, why string) {
	e.addSev(r, r.severity, product, topic, why)
}

func (e *eval) addSev(r *rule, severity, product, topic, why string) {
	e.out = append(e.out, Violation{Policy: r.id, Product: product, Topic: topic, Severity: severity, Why: why})
}

// sortedTopics returns the names of the cluster's topics, sorted.
func (e *eval) sortedTopics() []string {
	if !e.sortedDone {
		e.sortedDone = true
		e.sorted = make([]string, 0, len(e.c.Topics))
		for name := range e.c.Topics {
			e.sorted = append(e.sorted, name)
		}
		slices.Sort(e.sorted)
	}
	return e.sorted
}

// pattern returns the compiled topic pattern, compiled once per Set.
func (s *Set) pattern(sel meshwatch.TopicSelector) *regexp.Regexp {
	if re, ok := s.patterns.Load(sel.Pattern); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(sel.Pattern)
	if err != nil {
		return nil // the model's validation reports it
	}
	s.patterns.Store(sel.Pattern, re)
	return re
}

// forMatches calls f with the index in sorted of each topic that the
// pattern selector sel selects. A pattern anchored with ^ and starting
// with a literal looks at the topics with that prefix only.
func (e *eval) forMatches(sel meshwatch.TopicSelector, f func(i int)) {
	sorted := e.sortedTopics()
	re := e.set.pattern(sel)
	if re == nil {
		return
	}
	lo, hi := 0, len(sorted)
	if prefix, _ := re.LiteralPrefix(); prefix != "" && strings.HasPrefix(sel.Pattern, "^") {
		lo, _ = slices.BinarySearch(sorted, prefix)
		hi = lo
		for hi < len(sorted) && strings.HasPrefix(sorted[hi], prefix) {
			hi++
		}
	}
	for i := lo; i < hi; i++ {
		if re.MatchString(sorted[i]) {
			f(i)
		}
	}
}

// matchedTopics returns the cluster's topics that p's patterns select and
// that p does not name, sorted; nil offline.
func (e *eval) matchedTopics(p *meshwatch.Product) []string {
	if e.matchedDone || e.c == nil {
		return e.matched
	}
	e.matchedDone = true
	for _, sel := range p.Topics {
		if sel.Pattern == "" {
			continue
		}
		e.forMatches(sel, func(i int) {
			name := e.sorted[i]
			if !names(p, name) && !slices.Contains(e.matched, name) {
				e.matched = append(e.matched, name)
			}
		})
	}
	slices.Sort(e.matched)
	return e.matched
}

// names reports whether p names topic (not by pattern).
func names(p *meshwatch.Product, topic string) bool {
	for _, sel := range p.Topics {
		if sel.Pattern == "" && sel.Name == topic {
			return true
		}
	}
	return false
}

// publicACLs returns the ACLs that allow User:* to READ (or ALL).
func (e *eval) publicACLs() []ACL {
	if !e.publicDone {
		e.publicDone = true
		for _, a := range e.c.ACLs {
			if a.Principal == "User:*" && strings.EqualFold(a.Permission, "ALLOW") &&
				(strings.EqualFold(a.Operation, "READ") || strings.EqualFold(a.Operation, "ALL")) {
				e.public = append(e.public, a)
			}
		}
	}
	return e.public
}

// publicRead returns the ACL that lets User:* read topic, if any.
func (e *eval) publicRead(topic string) (ACL, bool) {
	for _, a := range e.publicACLs() {
		switch {
		case a.ResourceName == "*" && !strings.EqualFold(a.PatternType, "PREFIXED"),
			strings.EqualFold(a.PatternType, "PREFIXED") && strings.HasPrefix(topic, a.ResourceName),
			!strings.EqualFold(a.PatternType, "PREFIXED") && a.ResourceName == topic:
			return a, true
		}
	}
	return ACL{}, false
}
