package policy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/meshwatch/meshwatch/internal/kafkatest"
	"github.com/meshwatch/meshwatch/internal/srtest"
)

// gatherHang bounds the waits of these tests: it only catches a hang.
const gatherHang = time.Minute

func gatherCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), gatherHang)
	t.Cleanup(cancel)
	return ctx
}

// gatherMustGather is Gather for a test that expects no error.
func gatherMustGather(t *testing.T, adm *kadm.Client, opts GatherOptions) *Cluster {
	t.Helper()
	c, err := Gather(gatherCtx(t), adm, opts)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if c == nil || !c.Online {
		t.Fatalf("Gather: cluster %+v, want an Online one", c)
	}
	for name, tp := range c.Topics {
		if tp.Name != name {
			t.Fatalf("topic %q is named %q", name, tp.Name)
		}
	}
	return c
}

// gatherTopicShape is a Topic without its configs.
type gatherTopicShape struct {
	Partitions, ReplicationFactor int
}

func gatherShapes(c *Cluster) map[string]gatherTopicShape {
	out := map[string]gatherTopicShape{}
	for name, t := range c.Topics {
		out[name] = gatherTopicShape{t.Partitions, t.ReplicationFactor}
	}
	return out
}

// gatherConfigsOf returns the configs of topic with the keys given, "<absent>"
// for a key the topic does not have.
func gatherConfigsOf(c *Cluster, topic string, keys ...string) map[string]string {
	out := map[string]string{}
	t, ok := c.Topics[topic]
	if !ok {
		out["<topic>"] = "<absent>"
		return out
	}
	for _, k := range keys {
		v, ok := t.Configs[k]
		if !ok {
			v = "<absent>"
		}
		out[k] = v
	}
	return out
}

var gatherPolicyKeys = []string{"min.insync.replicas", "retention.ms", "retention.bytes", "cleanup.policy"}

func TestGatherTopics(t *testing.T) {
	// min.insync.replicas=2 is a dynamic broker default: every topic
	// without its own value has it.
	c := kafkatest.New(t, kfake.BrokerConfigs(map[string]string{"min.insync.replicas": "2"}))
	c.MustCreateTopic(t, "orders", 6, 3, map[string]*string{
		"retention.ms":   kadm.StringPtr("86400000"),
		"cleanup.policy": kadm.StringPtr("compact"),
	})
	c.MustCreateTopic(t, "payments", 1, 1, nil)
	c.MustCreateTopic(t, "audit", 2, 2, map[string]*string{
		"min.insync.replicas": kadm.StringPtr("1"),
		"retention.bytes":     kadm.StringPtr("1073741824"),
	})
	// Internal topics: by name, and by the metadata's IsInternal flag.
	c.MustCreateTopic(t, "__consumer_offsets", 1, 3, map[string]*string{"kfake.is_internal": kadm.StringPtr("true")})
	c.MustCreateTopic(t, "__private", 1, 1, nil)
	c.MustCreateTopic(t, "flagged-internal", 1, 1, map[string]*string{"kfake.is_internal": kadm.StringPtr("true")})
	adm := c.Admin(t)

	got := gatherMustGather(t, adm, GatherOptions{})
	want := map[string]gatherTopicShape{
		"orders":   {Partitions: 6, ReplicationFactor: 3},
		"payments": {Partitions: 1, ReplicationFactor: 1},
		"audit":    {Partitions: 2, ReplicationFactor: 2},
	}
	if d := cmp.Diff(want, gatherShapes(got)); d != "" {
		t.Errorf("topics (-want +got):\n%s", d)
	}
	if got.ACLs != nil || got.Subjects != nil {
		t.Errorf("ACLs %v, Subjects %v: want both nil when not asked for", got.ACLs, got.Subjects)
	}
	wantConfigs := map[string]map[string]string{
		"orders":   {"min.insync.replicas": "2", "retention.ms": "86400000", "retention.bytes": "-1", "cleanup.policy": "compact"},
		"payments": {"min.insync.replicas": "2", "retention.ms": "604800000", "retention.bytes": "-1", "cleanup.policy": "delete"},
		"audit":    {"min.insync.replicas": "1", "retention.ms": "604800000", "retention.bytes": "1073741824", "cleanup.policy": "delete"},
	}
	for topic, w := range wantConfigs {
		if d := cmp.Diff(w, gatherConfigsOf(got, topic, gatherPolicyKeys...)); d != "" {
			t.Errorf("%s configs (-want +got):\n%s", topic, d)
		}
	}
	// Every other key the broker returns is there too, as it says.
	direct, err := adm.DescribeTopicConfigs(gatherCtx(t), "payments")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for _, cfg := range direct[0].Configs {
		if cfg.Value != nil {
			all[cfg.Key] = *cfg.Value
		}
	}
	if len(all) <= len(gatherPolicyKeys) || all["segment.bytes"] == "" {
		t.Fatalf("kfake describes payments with %v: expected more keys, segment.bytes among them", all)
	}
	if d := cmp.Diff(all, got.Topics["payments"].Configs); d != "" {
		t.Errorf("payments configs against DescribeTopicConfigs (-direct +gathered):\n%s", d)
	}

	// Configs changed at runtime are read by the next Gather.
	alter := func(topic string, cfgs ...kadm.AlterConfig) {
		t.Helper()
		resps, err := adm.AlterTopicConfigs(gatherCtx(t), cfgs, topic)
		if err == nil {
			var r kadm.AlterConfigsResponse
			if r, err = resps.On(topic, nil); err == nil {
				err = r.Err
			}
		}
		if err != nil {
			t.Fatalf("alter %s: %v", topic, err)
		}
	}
	alter("payments",
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")},
		kadm.AlterConfig{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: kadm.StringPtr("3")},
	)
	alter("orders", kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"})
	got = gatherMustGather(t, adm, GatherOptions{})
	wantConfigs["payments"]["retention.ms"] = "3600000"
	wantConfigs["payments"]["min.insync.replicas"] = "3"
	wantConfigs["orders"]["retention.ms"] = "604800000" // back to the default
	for topic, w := range wantConfigs {
		if d := cmp.Diff(w, gatherConfigsOf(got, topic, gatherPolicyKeys...)); d != "" {
			t.Errorf("after altering, %s configs (-want +got):\n%s", topic, d)
		}
	}

	// A topic created or deleted shows in a later Gather: ListTopics reads
	// the admin client's metadata, cached for its MetadataMinAge (50 ms
	// for kafkatest clients).
	c.MustCreateTopic(t, "late", 4, 2, map[string]*string{"retention.ms": kadm.StringPtr("1000")})
	if err := c.DeleteTopic(gatherCtx(t), "audit"); err != nil {
		t.Fatal(err)
	}
	want["late"] = gatherTopicShape{Partitions: 4, ReplicationFactor: 2}
	delete(want, "audit")
	kafkatest.WaitFor(t, gatherHang, func() bool {
		got = gatherMustGather(t, adm, GatherOptions{})
		_, late := got.Topics["late"]
		_, audit := got.Topics["audit"]
		return late && !audit
	}, "Gather does not see late created and audit deleted")
	if d := cmp.Diff(want, gatherShapes(got)); d != "" {
		t.Errorf("topics after creating late and deleting audit (-want +got):\n%s", d)
	}
	if v := got.Topics["late"].Configs["retention.ms"]; v != "1000" {
		t.Errorf("late: retention.ms %q, want 1000", v)
	}
}

// TestGatherTopicErrors: an error listing topics or describing their
// configs is Gather's error, with no Cluster; a topic deleted while Gather
// reads is left out; a partition-level error is not an error.
func TestGatherTopicErrors(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 3, 3, nil)
	c.MustCreateTopic(t, "payments", 1, 1, nil)

	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "orders", Err: kerr.UnknownServerError, Count: -1})
	got, err := Gather(gatherCtx(t), c.Admin(t), GatherOptions{})
	h.Remove()
	if !errors.Is(err, kerr.UnknownServerError) || got != nil {
		t.Errorf("DescribeConfigs failing for orders: Gather = %v, %v; want nil, UNKNOWN_SERVER_ERROR", got, err)
	}

	// A topic deleted after it was listed is answered
	// UNKNOWN_TOPIC_OR_PARTITION by DescribeConfigs: it is left out.
	h = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "orders", Err: kerr.UnknownTopicOrPartition, Count: -1})
	got, err = Gather(gatherCtx(t), c.Admin(t), GatherOptions{})
	h.Remove()
	if err != nil || got == nil || len(got.Topics) != 1 || got.Topics["payments"].Name == "" {
		t.Errorf("orders gone before DescribeConfigs: Gather = %+v, %v; want payments only", got, err)
	}

	// A partition that fails to load lists no replicas (kfake lists none,
	// Kafka does); the others say the replication factor.
	h = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "orders", Partitions: []int32{2}, Err: kerr.LeaderNotAvailable, Count: -1})
	got, err = Gather(gatherCtx(t), c.Admin(t), GatherOptions{})
	h.Remove()
	if err != nil || got == nil || got.Topics["orders"].Partitions != 3 || got.Topics["orders"].ReplicationFactor != 3 {
		t.Errorf("orders partition 1 leaderless: Gather = %+v, %v; want orders with 3 partitions of 3 replicas", got.Topics, err)
	}

	// Topic-level Metadata errors: kfake answers a request for every topic
	// without them, so a control answers in its place.
	metaErrs := map[string]*kerr.Error{}
	var mu sync.Mutex
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		req := kreq.(*kmsg.MetadataRequest)
		if len(metaErrs) == 0 || req.Topics != nil {
			return nil, nil, false
		}
		return gatherMetadata(c, req, metaErrs), nil, true
	})
	setMetaErrs := func(m map[string]*kerr.Error) { mu.Lock(); metaErrs = m; mu.Unlock() }

	setMetaErrs(map[string]*kerr.Error{"orders": kerr.UnknownServerError})
	got, err = Gather(gatherCtx(t), c.Admin(t), GatherOptions{})
	if !errors.Is(err, kerr.UnknownServerError) || got != nil {
		t.Errorf("orders failing in Metadata: Gather = %v, %v; want nil, UNKNOWN_SERVER_ERROR", got, err)
	}
	setMetaErrs(map[string]*kerr.Error{"orders": kerr.UnknownTopicOrPartition})
	got, err = Gather(gatherCtx(t), c.Admin(t), GatherOptions{})
	if err != nil || got == nil || len(got.Topics) != 1 || got.Topics["payments"].Name == "" {
		t.Errorf("orders unknown in Metadata: Gather = %+v, %v; want payments only", got, err)
	}
	setMetaErrs(nil)

	if _, err := Gather(gatherCtx(t), nil, GatherOptions{}); err == nil {
		t.Error("Gather with no admin client: no error")
	}
}

// gatherMetadata answers a Metadata request for every topic with the
// cluster's brokers, every topic in errs with its error, and payments as one
// partition on broker 0.
func gatherMetadata(c *kafkatest.Cluster, req *kmsg.MetadataRequest, errs map[string]*kerr.Error) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for i, addr := range c.Addrs() {
		host, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = int32(i), host, int32(p)
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ControllerID = 0
	for name, e := range errs {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		rt.ErrorCode = e.Code
		resp.Topics = append(resp.Topics, rt)
	}
	rt := kmsg.NewMetadataResponseTopic()
	rt.Topic = kmsg.StringPtr("payments")
	p := kmsg.NewMetadataResponseTopicPartition()
	p.Leader, p.Replicas, p.ISR = 0, []int32{0}, []int32{0}
	rt.Partitions = append(rt.Partitions, p)
	resp.Topics = append(resp.Topics, rt)
	return resp
}

func TestGatherACLs(t *testing.T) {
	// kfake without EnableACLs has no authorizer checking requests, but it
	// keeps and describes ACLs as Kafka does.
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 1, 1, nil)
	adm := c.Admin(t)

	got := gatherMustGather(t, adm, GatherOptions{ACLs: true})
	if got.ACLs == nil || len(got.ACLs) != 0 {
		t.Fatalf("ACLs of a cluster with none: %#v, want empty and non-nil (known)", got.ACLs)
	}

	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := adm.CreateACLs(gatherCtx(t), b)
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			t.Fatalf("CreateACLs: %v", err)
		}
	}
	create(kadm.NewACLs().Topics("orders").Allow("User:*").Operations(kadm.OpRead))
	create(kadm.NewACLs().Topics("sales-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Deny("User:mallory").DenyHosts("10.0.0.1").Operations(kadm.OpWrite))
	create(kadm.NewACLs().Groups("billing").Allow("User:*").Operations(kadm.OpRead)) // not on a topic

	got = gatherMustGather(t, adm, GatherOptions{ACLs: true})
	want := []ACL{
		{Principal: "User:*", Host: "*", ResourceName: "orders", PatternType: "LITERAL", Operation: "READ", Permission: "ALLOW"},
		{Principal: "User:mallory", Host: "10.0.0.1", ResourceName: "sales-", PatternType: "PREFIXED", Operation: "WRITE", Permission: "DENY"},
	}
	if d := cmp.Diff(want, got.ACLs); d != "" {
		t.Errorf("ACLs (-want +got):\n%s", d)
	}
	if _, ok := got.Topics["orders"]; !ok {
		t.Errorf("topics %v: orders missing", gatherShapes(got))
	}

	if got := gatherMustGather(t, adm, GatherOptions{}); got.ACLs != nil {
		t.Errorf("ACLs not asked for: %v, want nil", got.ACLs)
	}

	// A cluster without an authorizer answers SECURITY_DISABLED: unknown,
	// not an error. (kfake never does on its own; a fault stands in.)
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeACLs}, TopLevel: true, Err: kerr.SecurityDisabled, Count: -1})
	got = gatherMustGather(t, adm, GatherOptions{ACLs: true})
	h.Remove()
	if got.ACLs != nil || len(got.Topics) != 1 {
		t.Errorf("SECURITY_DISABLED: ACLs %v (want nil), topics %v", got.ACLs, gatherShapes(got))
	}

	// Any other error is Gather's, with ACLs unknown and the rest filled.
	h = c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeACLs}, TopLevel: true, Err: kerr.UnknownServerError, Count: -1})
	got, err := Gather(gatherCtx(t), adm, GatherOptions{ACLs: true})
	h.Remove()
	if !errors.Is(err, kerr.UnknownServerError) {
		t.Errorf("DescribeACLs failing: error %v, want UNKNOWN_SERVER_ERROR", err)
	}
	if got == nil || got.ACLs != nil || len(got.Topics) != 1 {
		t.Errorf("DescribeACLs failing: cluster %+v, want topics and nil ACLs", got)
	}
}

// TestGatherACLsDenied runs kfake with SASL and ACLs enforced: a client
// that may not describe the cluster's ACLs gets them unknown, a superuser
// gets them all.
func TestGatherACLsDenied(t *testing.T) {
	topicACL := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c := kafkatest.New(t,
		kfake.EnableSASL(),
		kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "agent", "agent-secret", topicACL(kmsg.ACLOperationDescribe), topicACL(kmsg.ACLOperationDescribeConfigs)),
	)
	client := func(user, pass string) *kadm.Client {
		return kadm.NewClient(c.Client(t, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())))
	}
	admin, agent := client("admin", "admin-secret"), client("agent", "agent-secret")
	if _, err := admin.CreateTopic(gatherCtx(t), 2, 3, nil, "orders"); err != nil {
		t.Fatal(err)
	}

	var got *Cluster
	kafkatest.WaitFor(t, gatherHang, func() bool {
		got = gatherMustGather(t, agent, GatherOptions{ACLs: true})
		return len(got.Topics) == 1
	}, "the agent does not see orders")
	if got.ACLs != nil {
		t.Errorf("agent without DESCRIBE on CLUSTER: ACLs %v, want nil (unknown)", got.ACLs)
	}
	if d := cmp.Diff(map[string]gatherTopicShape{"orders": {2, 3}}, gatherShapes(got)); d != "" {
		t.Errorf("agent's topics (-want +got):\n%s", d)
	}

	got = gatherMustGather(t, admin, GatherOptions{ACLs: true})
	want := []ACL{
		{Principal: "User:agent", Host: "*", ResourceName: "*", PatternType: "LITERAL", Operation: "DESCRIBE", Permission: "ALLOW"},
		{Principal: "User:agent", Host: "*", ResourceName: "*", PatternType: "LITERAL", Operation: "DESCRIBE_CONFIGS", Permission: "ALLOW"},
	}
	if d := cmp.Diff(want, got.ACLs); d != "" {
		t.Errorf("superuser's ACLs (-want +got):\n%s", d)
	}
}

const (
	gatherOrdersV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
		{"name":"id","type":"string"},
		{"name":"customer","type":{"type":"record","name":"Customer","fields":[
			{"name":"id","type":"string"},
			{"name":"address","type":["null",{"type":"record","name":"Address","fields":[
				{"name":"city","type":"string"}]}],"default":null}]}},
		{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
			{"name":"sku","type":"string"}]}}},
		{"name":"amount","type":"double"}]}`
	// gatherOrdersV2 adds a field: Gather reads the latest version.
	gatherOrdersV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
		{"name":"id","type":"string"},
		{"name":"customer","type":{"type":"record","name":"Customer","fields":[
			{"name":"id","type":"string"},
			{"name":"address","type":["null",{"type":"record","name":"Address","fields":[
				{"name":"city","type":"string"}]}],"default":null}]}},
		{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
			{"name":"sku","type":"string"}]}}},
		{"name":"amount","type":"double"},
		{"name":"note","type":["null","string"],"default":null}]}`

	gatherPaymentsProto = `syntax = "proto3";
package pay;
import "google/protobuf/timestamp.proto";
message Payment {
  message Card {
    string number = 1;
    Holder holder = 2;
  }
  string id = 1;
  Card card = 2;
  repeated Card history = 3;
  map<string, string> tags = 4;
  google.protobuf.Timestamp at = 5;
}
message Holder {
  string name = 1;
}
`
	gatherCustomerAvro = `{"type":"record","name":"Customer","namespace":"common","fields":[
		{"name":"id","type":"string"},{"name":"email","type":"string"}]}`
	gatherSignupAvro = `{"type":"record","name":"Signup","namespace":"shop","fields":[
		{"name":"customer","type":"common.Customer"},{"name":"at","type":"long"}]}`
	gatherHolderProto = `syntax = "proto3";
package common;
message Holder { string name = 1; string iban = 2; }
`
	gatherRefundProto = `syntax = "proto3";
package pay;
import "common/holder.proto";
message Refund { string id = 1; common.Holder holder = 2; }
`
)

func gatherNewRegistryClient(t *testing.T, url string, opts ...sr.ClientOpt) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestGatherSubjects(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 1, 1, nil)
	adm := c.Admin(t)

	reg := srtest.New(t)
	reg.MustRegister(t, "orders-value", sr.Schema{Schema: gatherOrdersV1})
	reg.MustRegister(t, "orders-value", sr.Schema{Schema: gatherOrdersV2})
	reg.MustRegister(t, "payments-value", sr.Schema{Schema: gatherPaymentsProto, Type: sr.TypeProtobuf})
	reg.MustRegister(t, "common-customer", sr.Schema{Schema: gatherCustomerAvro})
	reg.MustRegister(t, "signups-value", sr.Schema{Schema: gatherSignupAvro, References: []sr.SchemaReference{
		{Name: "common.Customer", Subject: "common-customer", Version: 1},
	}})
	reg.MustRegister(t, "common-holder", sr.Schema{Schema: gatherHolderProto, Type: sr.TypeProtobuf})
	reg.MustRegister(t, "refunds-value", sr.Schema{Schema: gatherRefundProto, Type: sr.TypeProtobuf, References: []sr.SchemaReference{
		{Name: "common/holder.proto", Subject: "common-holder", Version: 1},
	}})
	reg.MustRegister(t, "events-value", sr.Schema{Schema: `{"type":"object"}`, Type: sr.TypeJSON})
	reg.SetCompatibility("orders-value", "FULL")
	reg.SetCompatibility("missing-value", "NONE") // a level, but no schema
	reg.SetCompatibility("", "FORWARD_TRANSITIVE")

	opts := GatherOptions{
		Registry: gatherNewRegistryClient(t, reg.URL()),
		Subjects: []string{"orders-value", "payments-value", "signups-value", "refunds-value", "events-value", "missing-value", "gone-value", "orders-value"},
	}
	before := reg.Requests()
	got := gatherMustGather(t, adm, opts)
	want := map[string]Subject{
		"orders-value": {Name: "orders-value", Exists: true, Compatibility: "FULL", Version: 2, Type: "AVRO",
			Fields: []string{"id", "customer", "customer.id", "customer.address", "customer.address.city", "lines", "amount", "note"}},
		"payments-value": {Name: "payments-value", Exists: true, Compatibility: "FORWARD_TRANSITIVE", Version: 1, Type: "PROTOBUF",
			Fields: []string{"id", "card", "card.number", "card.holder", "card.holder.name", "history", "tags", "at"}},
		"signups-value": {Name: "signups-value", Exists: true, Compatibility: "FORWARD_TRANSITIVE", Version: 1, Type: "AVRO",
			Fields: []string{"customer", "customer.id", "customer.email", "at"}},
		"refunds-value": {Name: "refunds-value", Exists: true, Compatibility: "FORWARD_TRANSITIVE", Version: 1, Type: "PROTOBUF",
			Fields: []string{"id", "holder", "holder.name", "holder.iban"}},
		"events-value":  {Name: "events-value", Exists: true, Compatibility: "FORWARD_TRANSITIVE", Version: 1, Type: "JSON"},
		"missing-value": {Name: "missing-value", Compatibility: "NONE"},
		"gone-value":    {Name: "gone-value", Compatibility: "FORWARD_TRANSITIVE"},
	}
	if d := cmp.Diff(want, got.Subjects); d != "" {
		t.Errorf("subjects (-want +got):\n%s", d)
	}
	// Two requests a subject (its latest version, its level) and one per
	// reference: the registry defaults to the global level itself.
	if n := reg.Requests() - before; n != 7*2+2 {
		t.Errorf("%d registry requests for 7 subjects and 2 references, want 16", n)
	}

	// Levels changed in the registry are read by the next Gather.
	reg.SetCompatibility("orders-value", "")
	reg.SetCompatibility("payments-value", "BACKWARD")
	reg.SetCompatibility("", "NONE")
	got = gatherMustGather(t, adm, opts)
	for subject, level := range map[string]string{"orders-value": "NONE", "payments-value": "BACKWARD", "gone-value": "NONE", "missing-value": "NONE"} {
		if s := got.Subjects[subject]; s.Compatibility != level {
			t.Errorf("after changing levels, %s: compatibility %q, want %q", subject, s.Compatibility, level)
		}
	}

	// No registry: no subjects, not even an empty map.
	if got := gatherMustGather(t, adm, GatherOptions{Subjects: opts.Subjects}); got.Subjects != nil {
		t.Errorf("no registry: subjects %v, want nil", got.Subjects)
	}
}

// gatherNoDefaultToGlobal is a registry in front of srtest that ignores
// defaultToGlobal, as registries before it existed do.
type gatherNoDefaultToGlobal struct{ next http.RoundTripper }

func (rt gatherNoDefaultToGlobal) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Del("defaultToGlobal")
	r.URL.RawQuery = q.Encode()
	return rt.next.RoundTrip(r)
}

// TestGatherSubjectsGlobalFallback: a registry that answers a subject
// without a level of its own with 40408 gets asked for the global level,
// once.
func TestGatherSubjectsGlobalFallback(t *testing.T) {
	c := kafkatest.New(t)
	adm := c.Admin(t)
	reg := srtest.New(t)
	reg.SetCompatibility("", "FULL_TRANSITIVE")
	reg.SetCompatibility("b-value", "NONE")
	for _, s := range []string{"a-value", "b-value", "c-value"} {
		reg.MustRegister(t, s, sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}`})
	}
	cl := gatherNewRegistryClient(t, reg.URL(), sr.HTTPClient(&http.Client{Transport: gatherNoDefaultToGlobal{http.DefaultTransport}}))

	before := reg.Requests()
	got := gatherMustGather(t, adm, GatherOptions{Registry: cl, Subjects: []string{"a-value", "b-value", "c-value"}})
	for subject, level := range map[string]string{"a-value": "FULL_TRANSITIVE", "b-value": "NONE", "c-value": "FULL_TRANSITIVE"} {
		if s := got.Subjects[subject]; s.Compatibility != level || !s.Exists {
			t.Errorf("%s: %+v, want it to exist with level %s", subject, s, level)
		}
	}
	if n := reg.Requests() - before; n != 3*2+1 {
		t.Errorf("%d registry requests, want 7 (two a subject, the global level once)", n)
	}
}

// gatherFailSubject fails every registry request about one subject with 500.
type gatherFailSubject struct {
	subject string
	next    http.RoundTripper
}

func (rt gatherFailSubject) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/"+rt.subject) {
		return &http.Response{
			StatusCode: http.StatusInternalServerError,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       http.NoBody,
			Request:    r,
		}, nil
	}
	return rt.next.RoundTrip(r)
}

func TestGatherSubjectErrors(t *testing.T) {
	c := kafkatest.New(t)
	c.MustCreateTopic(t, "orders", 1, 1, nil)
	adm := c.Admin(t)
	reg := srtest.New(t)
	reg.MustRegister(t, "orders-value", sr.Schema{Schema: gatherOrdersV1})
	reg.MustRegister(t, "broken-value", sr.Schema{Schema: gatherOrdersV1})
	reg.MustRegister(t, "bad-value", sr.Schema{Schema: `{"type":"record","name":"Bad","fields":[{"name":"x","type":"no.such.Type"}]}`})
	subjects := []string{"orders-value", "broken-value", "bad-value", "missing-value"}

	// One subject the registry fails on: its error is joined, the rest is
	// filled, and that subject is absent (unknown), not reported missing.
	cl := gatherNewRegistryClient(t, reg.URL(), sr.HTTPClient(&http.Client{Transport: gatherFailSubject{"broken-value", http.DefaultTransport}}))
	got, err := Gather(gatherCtx(t), adm, GatherOptions{Registry: cl, Subjects: subjects})
	if err == nil || !strings.Contains(err.Error(), "broken-value") {
		t.Errorf("error %v, want one naming broken-value", err)
	}
	if got == nil {
		t.Fatal("no cluster with a registry error")
	}
	if _, ok := got.Subjects["broken-value"]; ok {
		t.Errorf("broken-value: %+v, want it absent", got.Subjects["broken-value"])
	}
	if s := got.Subjects["orders-value"]; !s.Exists || s.Version != 1 || s.Compatibility != "BACKWARD" || len(s.Fields) != 7 {
		t.Errorf("orders-value: %+v, want it read", s)
	}
	if s, ok := got.Subjects["missing-value"]; !ok || s.Exists {
		t.Errorf("missing-value: %+v (present %v), want present with Exists false", s, ok)
	}
	if len(got.Topics) != 1 {
		t.Errorf("topics %v, want orders", gatherShapes(got))
	}
	// A schema that does not parse: the subject is there, without fields,
	// and the error says why.
	if s := got.Subjects["bad-value"]; !s.Exists || s.Version != 1 || s.Type != "AVRO" || s.Fields != nil {
		t.Errorf("bad-value: %+v, want it present without fields", s)
	}
	if err == nil || !strings.Contains(err.Error(), "bad-value") {
		t.Errorf("error %v, want one naming bad-value", err)
	}

	// The registry down: every subject unknown, the topics still read.
	reg.SetFailing(true)
	got, err = Gather(gatherCtx(t), adm, GatherOptions{Registry: gatherNewRegistryClient(t, reg.URL()), Subjects: subjects})
	reg.SetFailing(false)
	if err == nil {
		t.Error("registry down: no error")
	}
	if got == nil || len(got.Subjects) != 0 || got.Subjects == nil || len(got.Topics) != 1 {
		t.Errorf("registry down: cluster %+v, want the topics and an empty subject map", got)
	}
}

// gatherRequests counts the requests a kfake cluster serves, by key.
type gatherRequests struct {
	mu sync.Mutex
	n  map[kmsg.Key]int
}

func gatherCountRequests(c *kafkatest.Cluster) *gatherRequests {
	r := &gatherRequests{n: map[kmsg.Key]int{}}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		r.mu.Lock()
		r.n[kmsg.Key(req.Key())]++
		r.mu.Unlock()
		return nil, nil, false // not handled: the cluster answers, the control stays
	})
	return r
}

func (r *gatherRequests) reset() map[kmsg.Key]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	r.n = map[kmsg.Key]int{}
	return n
}

// TestGatherRequestsBounded: Gather's requests do not grow with the topics.
func TestGatherRequestsBounded(t *testing.T) {
	const topics = 2000
	c := kafkatest.New(t)
	adm := c.Admin(t)
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%04d", i)
	}
	resps, err := adm.CreateTopics(gatherCtx(t), 1, 1, nil, names...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	counts := gatherCountRequests(c)

	// A fresh admin client, whose metadata cache is empty.
	got := gatherMustGather(t, c.Admin(t), GatherOptions{ACLs: true})
	n := counts.reset()
	if len(got.Topics) != topics || got.ACLs == nil {
		t.Fatalf("%d topics, ACLs %v; want %d topics and known ACLs", len(got.Topics), got.ACLs, topics)
	}
	if got.Topics["topic-1999"].Configs["retention.ms"] == "" {
		t.Errorf("topic-1999 configs %v: retention.ms missing", got.Topics["topic-1999"].Configs)
	}
	t.Logf("requests for %d topics: %v", topics, n)
	wantConfigs := (topics + gatherConfigBatch - 1) / gatherConfigBatch
	if n[kmsg.Metadata] > 2 || n[kmsg.DescribeConfigs] != wantConfigs || n[kmsg.DescribeACLs] != 1 {
		t.Errorf("requests for %d topics: %d Metadata (want at most 2), %d DescribeConfigs (want %d), %d DescribeACLs (want 1); all: %v",
			topics, n[kmsg.Metadata], n[kmsg.DescribeConfigs], wantConfigs, n[kmsg.DescribeACLs], n)
	}
	// Nothing else but the ApiVersions of each new connection (at most
	// one per broker and one for the seed).
	for k, m := range n {
		switch k {
		case kmsg.Metadata, kmsg.DescribeConfigs, kmsg.DescribeACLs:
		case kmsg.ApiVersions:
			if m > len(c.Addrs())+1 {
				t.Errorf("%d ApiVersions requests, want at most one per connection", m)
			}
		default:
			t.Errorf("%d %s requests, want none", m, k.Name())
		}
	}
}

func TestSchemaFields(t *testing.T) {
	for _, tc := range []struct {
		name, typ, schema string
		want              []string
		err               string
	}{
		{name: "avro nested", typ: "AVRO", schema: gatherOrdersV2,
			want: []string{"id", "customer", "customer.id", "customer.address", "customer.address.city", "lines", "amount", "note"}},
		{name: "avro empty type", typ: "", schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, want: []string{"a"}},
		{name: "avro lower case type", typ: "avro", schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, want: []string{"a"}},
		{name: "avro named type used twice", typ: "AVRO", schema: `{"type":"record","name":"Move","fields":[
			{"name":"from","type":{"type":"record","name":"Place","fields":[{"name":"x","type":"int"}]}},
			{"name":"to","type":"Place"}]}`,
			want: []string{"from", "from.x", "to", "to.x"}},
		{name: "avro union of record and null, null second", typ: "AVRO", schema: `{"type":"record","name":"R","fields":[
			{"name":"p","type":[{"type":"record","name":"P","fields":[{"name":"q","type":"int"}]},"null"]}]}`,
			want: []string{"p", "p.q"}},
		{name: "avro union of two records not followed", typ: "AVRO", schema: `{"type":"record","name":"R","fields":[
			{"name":"u","type":["null",
				{"type":"record","name":"A","fields":[{"name":"a","type":"int"}]},
				{"type":"record","name":"B","fields":[{"name":"b","type":"int"}]}]}]}`,
			want: []string{"u"}},
		{name: "avro map of records not followed", typ: "AVRO", schema: `{"type":"record","name":"R","fields":[
			{"name":"m","type":{"type":"map","values":{"type":"record","name":"V","fields":[{"name":"v","type":"int"}]}}}]}`,
			want: []string{"m"}},
		{name: "avro recursive record stops", typ: "AVRO", schema: `{"type":"record","name":"Node","fields":[
			{"name":"value","type":"int"},
			{"name":"next","type":["null","Node"],"default":null}]}`,
			want: []string{"value", "next"}},
		{name: "avro not a record", typ: "AVRO", schema: `"string"`, err: "not a record"},
		{name: "avro invalid", typ: "AVRO", schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}`, err: "avro schema"},
		{name: "protobuf nested", typ: "PROTOBUF", schema: gatherPaymentsProto,
			want: []string{"id", "card", "card.number", "card.holder", "card.holder.name", "history", "tags", "at"}},
		{name: "protobuf recursive message stops", typ: "PROTOBUF", schema: `syntax = "proto3";
message Tree { string label = 1; Tree left = 2; Leaf leaf = 3; }
message Leaf { Tree back = 1; int32 n = 2; }`,
			want: []string{"label", "left", "leaf", "leaf.back", "leaf.n"}},
		{name: "protobuf proto2 group", typ: "protobuf", schema: `syntax = "proto2";
message G { optional group Inner = 1 { optional int32 n = 2; } }`,
			want: []string{"inner", "inner.n"}},
		{name: "protobuf no message", typ: "PROTOBUF", schema: `syntax = "proto3"; enum E { E_UNSPECIFIED = 0; }`, err: "no message"},
		{name: "protobuf invalid", typ: "PROTOBUF", schema: `syntax = "proto3"; message M { Unknown u = 1; }`, err: "protobuf schema"},
		{name: "protobuf unresolved import", typ: "PROTOBUF", schema: `syntax = "proto3"; import "common/holder.proto"; message M { common.Holder h = 1; }`, err: "protobuf schema"},
		{name: "json", typ: "JSON", schema: `{"type":"object"}`, err: "no field paths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SchemaFields(tc.typ, tc.schema)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("SchemaFields = %v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
}

// BenchmarkGather gathers 1,000 topics of three partitions with their ACLs.
func BenchmarkGather(b *testing.B) {
	const topics = 1000
	c := kafkatest.New(b)
	adm := c.Admin(b)
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%04d", i)
	}
	if _, err := adm.CreateTopics(b.Context(), 3, 1, nil, names...); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Gather(b.Context(), adm, GatherOptions{ACLs: true}); err != nil {
			b.Fatal(err)
		}
	}
}
