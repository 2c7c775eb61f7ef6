package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch"
	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// TestLiveViolations is issue 20's acceptance on kfake and the registry
// fake: what changes on the cluster at runtime — replication factor,
// retention, min.insync.replicas, an ACL that lets anybody read PII, a
// subject's compatibility — raises a violation at the next Gather and
// Evaluate, and clears it when put back.
func TestLiveViolations(t *testing.T) {
	const (
		orders = "checkout.orders.placed"
		wide   = "checkout.orders.wide"
	)
	c := kafkatest.New(t)
	c.MustCreateTopic(t, orders, 2, 3, nil)
	adm := c.Admin(t)
	reg := srtest.New(t)
	if _, _, err := reg.Register(orders+"-value", sr.Schema{Schema: `{"type":"record","name":"O","fields":[{"name":"id","type":"string"},{"name":"email","type":"string"}]}`}); err != nil {
		t.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	mesh := &meshwatch.Config{
		Products: []meshwatch.Product{{
			Name: orders, Domain: "checkout", Owner: "orders-team", Tier: 1, Format: meshwatch.FormatAvro,
			Topics:       []meshwatch.TopicSelector{{Pattern: `^checkout\.orders\..*$`}},
			ReplayWindow: meshwatch.Duration(24 * time.Hour),
			PII:          []string{"email"},
			Quality:      meshwatch.Quality{Required: []string{"id"}},
			SLOs:         []meshwatch.SLO{{Name: "availability", SLI: meshwatch.SLIAvailability, Objective: 0.99}},
		}},
		Owners: map[string]meshwatch.Owner{"orders-team": {SlackChannel: "#orders"}},
	}
	mesh.SetDefaults()
	if err := mesh.Validate().Err(); err != nil {
		t.Fatal(err)
	}
	set, err := Compile(&Config{
		{Policy: TopicConfig, MinReplicationFactor: 3, MinInsyncReplicas: 2, RetentionCoversReplay: new(true)},
		{Policy: PII},
		{Policy: Schema, Compatibility: "BACKWARD", Fields: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	alter := func(topic, key string, value *string) {
		t.Helper()
		op := kadm.AlterConfig{Name: key, Value: value}
		if value == nil {
			op.Op = kadm.DeleteConfig
		}
		rs, err := adm.AlterTopicConfigs(gatherCtx(t), []kadm.AlterConfig{op}, topic)
		if err == nil {
			_, err = rs.On(topic, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	acl := kadm.NewACLs().Topics(orders).Allow("User:*").AllowHosts().Operations(kadm.OpRead)
	aclDo := func(create bool) {
		t.Helper()
		var err error
		if create {
			var rs kadm.CreateACLsResults
			rs, err = adm.CreateACLs(gatherCtx(t), acl)
			for _, r := range rs {
				err = errors.Join(err, r.Err)
			}
		} else {
			var rs kadm.DeleteACLsResults
			rs, err = adm.DeleteACLs(gatherCtx(t), acl)
			for _, r := range rs {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// evaluate returns "policy topic: why" of each violation at a fresh
	// read of the cluster.
	evaluate := func() []string {
		t.Helper()
		got := gatherMustGather(t, adm, GatherOptions{Registry: cl, Subjects: []string{orders + "-value"}, ACLs: true})
		var out []string
		for _, v := range set.Evaluate(mesh, got) {
			out = append(out, v.Policy+" "+v.Topic+": "+v.Why)
		}
		return out
	}
	want := func(at string, subs ...string) {
		t.Helper()
		// kadm's ListTopics may answer from a metadata cache up to 5 s
		// old; configs, ACLs and subjects are read anew.
		var got []string
		kafkatest.WaitFor(t, 20*time.Second, func() bool {
			got = evaluate()
			if len(got) != len(subs) {
				return false
			}
			for i := range subs {
				if !strings.Contains(got[i], subs[i]) {
					return false
				}
			}
			return true
		}, "%s: violations %s, want ones containing %q", at, lazyList{&got}, subs)
	}

	alter(orders, "min.insync.replicas", new("2"))
	want("a compliant topic, ACLs and subject")

	alter(orders, "min.insync.replicas", new("1"))
	alter(orders, "retention.ms", new("3600000"))
	want("min.insync and retention lowered at runtime",
		"topic_config "+orders+": retention of "+orders+" is 1h (retention.ms=3600000); the product promises a replay window of 1d",
		"topic_config "+orders+": topic "+orders+" has min.insync.replicas=1; products need at least 2")
	alter(orders, "min.insync.replicas", new("2"))
	alter(orders, "retention.ms", nil)
	want("put back")

	c.MustCreateTopic(t, wide, 1, 1, map[string]*string{"min.insync.replicas": new("2")})
	want("a topic of replication factor 1 joins the product", "topic_config "+wide+": topic "+wide+" has replication factor 1")
	if err := c.DeleteTopic(gatherCtx(t), wide); err != nil {
		t.Fatal(err)
	}
	want("the topic deleted")

	aclDo(true)
	want("User:* may read the PII", "pii "+orders+": ")
	aclDo(false)
	want("the ACL removed")

	reg.SetCompatibility(orders+"-value", "NONE")
	want("compatibility NONE", "schema "+orders+": ")
	reg.SetCompatibility(orders+"-value", "")
	want("compatibility back to the global BACKWARD")

	if !slices.Contains(set.IDs(), Schema) {
		t.Errorf("IDs() = %v", set.IDs())
	}
}

// lazyList prints the list as it is when the message is formatted.
type lazyList struct{ p *[]string }

func (l lazyList) String() string { return fmt.Sprintf("%q", *l.p) }
