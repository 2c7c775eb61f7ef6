package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/alert"
	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/policy"
	"github.com/meshwatch/meshwatch/quality"
)

// policyDigestKey is the state key of when each owner last got its weekly
// digest of policy violations.
const policyDigestKey = "policy/digest"

// policyDigestEvery is how often an owner with violations hears of them
// all in one message.
const policyDigestEvery = 7 * 24 * time.Hour

// policyRunner evaluates the governance policies against the live cluster
// at every discovery (collector.discovery), keeps the latest violations
// for /metrics and /api/v1/policies, raises a PolicyViolation ticket per
// error violation, and sends each owner a weekly digest. It runs on the
// agent with the fleet-wide duties.
type policyRunner struct {
	set    *policy.Set
	mesh   *meshwatch.Config
	read   func(ctx context.Context) (*policy.Cluster, error)
	every  time.Duration
	now    func() time.Time
	log    *slog.Logger
	store  stateStore
	tell   func(ctx context.Context, a alert.Announcement) error
	onEval func()

	mu         sync.Mutex
	violations []policy.Violation
	evaluated  time.Time // zero until the first evaluation
	// partial: the last read of the cluster failed or missed a part (a
	// subject, the ACLs): what the policies could not see is unknown, so
	// the open tickets are held rather than resolved.
	partial bool
	lastErr string
	digests map[string]time.Time // by owner; nil until loaded
}

// gatherFor returns how the agent reads what cfg's policies need of the
// cluster: topics and configs, ACLs, and the avro and protobuf products'
// subjects when a schema registry is configured.
func gatherFor(set *config.Config, adm *kadm.Client) (func(ctx context.Context) (*policy.Cluster, error), error) {
	var opts policy.GatherOptions
	opts.ACLs = true
	if set.SchemaRegistry != nil {
		reg, err := quality.NewRegistryClient(set.SchemaRegistry)
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		opts.Registry = reg
		opts.SubjectsOf = func(topics []string) []string { return registrySubjects(set.Config, topics) }
	}
	return func(ctx context.Context) (*policy.Cluster, error) { return policy.Gather(ctx, adm, opts) }, nil
}

// registrySubjects are the registry subjects of the cluster's topics that
// the policies read: the value subject of each topic of a product read
// through the registry, and the key subject of each topic of a product
// holding PII (the pii policy reads its fields).
func registrySubjects(cfg *meshwatch.Config, topics []string) []string {
	var out []string
	for i := range cfg.Products {
		p := &cfg.Products[i]
		value, key := p.UsesRegistry(), len(p.PII) > 0
		if !value && !key {
			continue
		}
		for _, t := range topics {
			if !slices.ContainsFunc(p.Topics, func(sel meshwatch.TopicSelector) bool { return sel.Matches(t) }) {
				continue
			}
			if value {
				out = append(out, meshwatch.ValueSubject(t))
			}
			if key {
				out = append(out, meshwatch.KeySubject(t))
			}
		}
	}
	return out
}

// newPolicies returns the policy runner of core c, nil without policies.
func (a *App) newPolicies(c *core) (*policyRunner, error) {
	if a.set.Policies == nil || len(*a.set.Policies) == 0 {
		return nil, nil
	}
	set, err := policy.Compile(a.set.Policies)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	read, err := gatherFor(a.set, kadm.NewClient(a.kc))
	if err != nil {
		return nil, err
	}
	r := &policyRunner{
		set: set, mesh: a.cfg, read: read,
		every: cmp.Or(a.opts.PolicyEvery, a.set.Collector.Discovery.Std()),
		now:   a.opts.Now, log: a.log.With("component", "policies"),
		store: c.fence, tell: c.alerts.Announce, onEval: c.fan.evaluated,
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Run evaluates at start and every r.every until ctx ends.
func (r *policyRunner) Run(ctx context.Context) error {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		r.evaluate(ctx)
		r.digest(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// evaluate reads the cluster and evaluates every policy. A read that
// fails keeps the previous violations, and one that fails or misses a
// part holds the open tickets (Conditions): nothing known is not nothing
// wrong.
func (r *policyRunner) evaluate(ctx context.Context) {
	cl, err := r.read(ctx)
	if cl == nil {
		if ctx.Err() == nil {
			r.failed(err)
			r.mu.Lock()
			r.partial = true
			r.mu.Unlock()
		}
		return
	}
	if err != nil {
		// Partial (a subject or the ACLs): the rest is evaluated.
		r.failed(err)
	}
	vs := r.set.Evaluate(r.mesh, cl)
	r.mu.Lock()
	before := len(r.violations)
	r.violations, r.evaluated, r.partial = vs, r.now(), err != nil
	if err == nil && r.lastErr != "" {
		r.log.Info("policies: the cluster can be read again")
		r.lastErr = ""
	}
	r.mu.Unlock()
	if len(vs) != before {
		r.log.Info("policies evaluated", "violations", len(vs), "errors", countSeverity(vs, policy.SeverityError))
	}
	if r.onEval != nil {
		r.onEval()
	}
}

func (r *policyRunner) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if msg := err.Error(); msg != r.lastErr {
		r.lastErr = msg
		r.log.Warn("policies: cannot read all the cluster says; the policies it feeds keep their last result", "err", err)
	}
}

func countSeverity(vs []policy.Violation, sev string) int {
	n := 0
	for _, v := range vs {
		if v.Severity == sev {
			n++
		}
	}
	return n
}

// Violations returns the latest violations.
func (r *policyRunner) Violations() []policy.Violation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.violations)
}

// Conditions returns a PolicyViolation ticket per product (or topic) and
// policy with error violations; until the first evaluation, and while the
// last read of the cluster was partial, a condition that holds the open
// tickets as they were.
func (r *policyRunner) Conditions() []meshwatch.Condition {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evaluated.IsZero() {
		return policyElsewhere
	}
	out := policyConditions(r.violations)
	if r.partial {
		out = append(out, policyElsewhere...)
	}
	return out
}

// policyConditions makes one ticket of the error violations of each
// policy, product and topic (a topic may break topic_config three ways):
// every reason in its description, so that fixing one shows the others.
func policyConditions(vs []policy.Violation) []meshwatch.Condition {
	var out []meshwatch.Condition
	at := map[[3]string]int{}
	for _, v := range vs {
		if v.Severity != policy.SeverityError {
			continue
		}
		k := [3]string{v.Policy, v.Product, v.Topic}
		if i, ok := at[k]; ok {
			out[i].Description = strings.TrimSuffix(out[i].Description, policyHint) + "; " + v.Why + policyHint
			continue
		}
		at[k] = len(out)
		out = append(out, policyCondition(v))
	}
	return out
}

// policyElsewhere holds the PolicyViolation alerts of an agent that does
// not evaluate the policies now: before its first evaluation, or a fleet
// member without the fleet-wide duties.
var policyElsewhere = heldConditions{{Name: meshwatch.AlertPolicyViolation, State: meshwatch.StateUnknown}}

// policyCondition is the ticket of an error violation: to the product's
// owner, or, for a topic no product claims, to the default channel.
func policyCondition(v policy.Violation) meshwatch.Condition {
	what := v.Product
	if what == "" {
		what = "topic " + v.Topic
	}
	return meshwatch.Condition{
		Name: meshwatch.AlertPolicyViolation, Product: v.Product, Policy: v.Policy, Topic: v.Topic,
		Severity: meshwatch.SeverityTicket, State: v.Severity,
		Summary:     fmt.Sprintf("%s breaks the %s policy", what, v.Policy),
		Description: v.Why + policyHint,
	}
}

// policyHint ends a policy ticket's description.
const policyHint = ". Fix the topic or the product's declaration; `meshwatch check -policies` lists every violation."

// policiesView is what /api/v1/policies answers.
type policiesView struct {
	// EvaluatedAt is when the policies were last evaluated against the
	// cluster; absent before the first evaluation.
	EvaluatedAt *time.Time         `json:"evaluated_at,omitempty"`
	Violations  []policy.Violation `json:"violations"`
}

// Handler serves GET /api/v1/policies, filtered by ?product= and
// ?severity=.
func (r *policyRunner) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		v := policiesView{Violations: []policy.Violation{}}
		if !r.evaluated.IsZero() {
			at := r.evaluated.UTC()
			v.EvaluatedAt = &at
		}
		product, sev := req.URL.Query().Get("product"), req.URL.Query().Get("severity")
		for _, x := range r.violations {
			if (product == "" || x.Product == product) && (sev == "" || x.Severity == sev) {
				v.Violations = append(v.Violations, x)
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	})
}

// digest sends each owner with violations, and a channel, one message
// listing them all, at most every policyDigestEvery; when each owner last
// got one is in the state store, so a restart sends none early.
func (r *policyRunner) digest(ctx context.Context) {
	r.mu.Lock()
	evaluated, vs := r.evaluated, slices.Clone(r.violations)
	r.mu.Unlock()
	if evaluated.IsZero() {
		return
	}
	if r.digests == nil {
		r.digests = map[string]time.Time{}
		b, ok, err := r.store.Get(ctx, policyDigestKey)
		if err != nil {
			r.digests = nil
			r.log.Warn("policies: the digest state cannot be read; no digest this time", "err", err)
			return
		}
		if ok {
			if err := json.Unmarshal(b, &r.digests); err != nil {
				r.log.Error("policies: the digest state is unreadable; starting without it", "err", err)
				r.digests = map[string]time.Time{}
			}
		}
	}
	byOwner := map[string][]policy.Violation{}
	owners := map[string]string{}
	for i := range r.mesh.Products {
		owners[r.mesh.Products[i].Name] = r.mesh.Products[i].Owner
	}
	for _, v := range vs {
		if o := owners[v.Product]; o != "" {
			byOwner[o] = append(byOwner[o], v)
		}
	}
	now, changed := r.now(), false
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		ch := r.mesh.Owners[owner].SlackChannel
		if ch == "" || now.Sub(r.digests[owner]) < policyDigestEvery {
			continue
		}
		err := r.tell(ctx, alert.Announcement{
			Kind: "policy_digest", Channel: ch, Text: digestText(owner, byOwner[owner]),
			Key: "policy-digest/" + owner + "/" + now.UTC().Format(time.DateOnly),
		})
		if err != nil && !errors.Is(err, alert.ErrNoAnnouncer) {
			r.log.Warn("policies: the digest could not be queued; retried at the next evaluation", "owner", owner, "err", err)
			continue
		}
		r.digests[owner], changed = now, true
	}
	if changed {
		b, _ := json.Marshal(r.digests)
		if err := r.store.Put(ctx, policyDigestKey, b); err != nil {
			r.log.Warn("policies: the digest state was not saved", "err", err)
		}
	}
}

// maxDigestLines bounds a digest: a phone scrolls, but not forever.
const maxDigestLines = 20

// digestText is an owner's weekly digest: counts, then one line per
// violation, errors first.
func digestText(owner string, vs []policy.Violation) string {
	slices.SortStableFunc(vs, func(a, b policy.Violation) int {
		return cmp.Compare(severityRank(a.Severity), severityRank(b.Severity))
	})
	products := map[string]bool{}
	for _, v := range vs {
		products[v.Product] = true
	}
	errs := countSeverity(vs, policy.SeverityError)
	var b strings.Builder
	fmt.Fprintf(&b, "Policy digest for %s: %d %s on %d %s (%d %s, %d %s).\n", owner,
		len(vs), plural(len(vs), "violation", "violations"), len(products), plural(len(products), "product", "products"),
		errs, plural(errs, "error", "errors"), len(vs)-errs, plural(len(vs)-errs, "warning", "warnings"))
	for i, v := range vs {
		if i == maxDigestLines {
			fmt.Fprintf(&b, "… and %d more: meshwatch check -policies lists them all.\n", len(vs)-i)
			break
		}
		fmt.Fprintf(&b, "• %s · %s · %s: %s\n", v.Severity, v.Policy, cmp.Or(v.Product, v.Topic), v.Why)
	}
	b.WriteString("Errors are also tickets in this channel until fixed.")
	return b.String()
}

func severityRank(s string) int {
	if s == policy.SeverityError {
		return 0
	}
	return 1
}

// noPolicies answers /api/v1/policies on an agent that does not evaluate
// them: 404, saying why.
func noPolicies(configured bool) http.Handler {
	msg := "no policies: section in the configuration"
	if configured {
		msg = "another agent of the fleet evaluates the policies: the one with the fleet-wide duties (cost, notices)"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	})
}

// checkPolicies is meshwatch check -policies: one evaluation of set's
// policies against the live cluster, the violations printed (of product
// only, when given), exit 1 on an error violation.
func checkPolicies(ctx context.Context, set *config.Config, product, format string, stdout, stderr io.Writer) int {
	if format != "table" && format != "json" {
		fmt.Fprintf(stderr, "meshwatch check: -format must be table or json, got %q\n", format)
		return exitUsage
	}
	if set.Policies == nil || len(*set.Policies) == 0 {
		fmt.Fprintln(stderr, "meshwatch check: -policies: the configuration has no policies: section (see README, Governance)")
		return exitUsage
	}
	rules, err := policy.Compile(set.Policies)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	kopts, err := kafkaOpts(set.Kafka)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	kc, err := kgo.NewClient(kopts...)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: kafka client: %v\n", err)
		return exitFailed
	}
	defer kc.Close()
	read, err := gatherFor(set, kadm.NewClient(kc))
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "reading the cluster (%s) for %d %s …\n", strings.Join(set.Kafka.Brokers, ","), len(*set.Policies), plural(len(*set.Policies), "policy", "policies"))
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cl, err := read(rctx)
	if cl == nil {
		fmt.Fprintf(stderr, "meshwatch check: cannot read the cluster: %v\n", err)
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch check: part of the cluster could not be read, so the policies that need it were not checked: %v\n", err)
	}
	var vs []policy.Violation
	for _, v := range rules.Evaluate(set.Config, cl) {
		if product == "" || v.Product == product {
			vs = append(vs, v)
		}
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if vs == nil {
			vs = []policy.Violation{}
		}
		if err := enc.Encode(policiesView{Violations: vs}); err != nil {
			fmt.Fprintf(stderr, "meshwatch check: %v\n", err)
			return exitFailed
		}
	} else {
		writeViolations(stdout, vs)
	}
	if errs := countSeverity(vs, policy.SeverityError); errs > 0 {
		fmt.Fprintf(stderr, "%d %s of severity error: not ready to publish\n", errs, plural(errs, "violation", "violations"))
		return exitFailed
	}
	if err != nil {
		// An incomplete check is no pass: a gate must not open on what
		// it could not see.
		fmt.Fprintln(stderr, "the check is incomplete: fix the access above (registry, ACLs) and run it again")
		return exitFailed
	}
	return exitOK
}

// writeViolations prints violations as a table, or says there are none.
func writeViolations(w io.Writer, vs []policy.Violation) {
	if len(vs) == 0 {
		fmt.Fprintln(w, "no policy violation")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tPOLICY\tPRODUCT / TOPIC\tWHY")
	for _, v := range vs {
		what := v.Product
		if v.Topic != "" && v.Product != "" {
			what += " / " + v.Topic
		} else if v.Topic != "" {
			what = "topic " + v.Topic
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Severity, v.Policy, what, v.Why)
	}
	_ = tw.Flush()
}

// validatePolicies evaluates cfg's offline policies for meshwatch
// validate: their violations are printed, one of severity error fails.
func validatePolicies(cfg *config.Config, path string, stdout io.Writer) int {
	rules, err := policy.Compile(cfg.Policies)
	if err != nil {
		fmt.Fprintf(stdout, "%s: %v\n", path, err)
		return exitFailed
	}
	vs := rules.Offline().Evaluate(cfg.Config, nil)
	if len(vs) == 0 {
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: policy violations found without the cluster (meshwatch check -policies reads it for the others):\n", path)
	writeViolations(stdout, vs)
	if errs := countSeverity(vs, policy.SeverityError); errs > 0 {
		fmt.Fprintf(stdout, "%s: invalid (%d policy %s of severity error)\n", path, errs, plural(errs, "violation", "violations"))
		return exitFailed
	}
	return exitOK
}
