package policy

// Cluster is what the live cluster says of the mesh, as far as the
// policies need it: the topics with their configuration, the products'
// schema subjects and the ACLs that grant reading. Gather fills it; a
// zero Cluster (offline: meshwatch validate) holds nothing, and the
// policies that need the cluster are not evaluated on it.
type Cluster struct {
	// Topics are the cluster's topics by name, internal ones (names
	// starting with "__") excluded.
	Topics map[string]Topic `json:"topics"`
	// Subjects are the schema registry subjects of the products that read
	// Avro or Protobuf (<topic>-value), by subject name; a subject the
	// registry does not have is present with Exists false. Nil without a
	// registry.
	Subjects map[string]Subject `json:"subjects,omitempty"`
	// ACLs are the cluster's ACLs on topics; nil when the cluster does not
	// say (no authorizer, or the agent may not describe them), which the
	// policies that read ACLs report as unknown rather than as a pass.
	ACLs []ACL `json:"acls,omitempty"`
	// Online says the Cluster comes from a cluster (Gather), not from an
	// offline check.
	Online bool `json:"online"`
}

// Topic is one topic and the configuration the policies read.
type Topic struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	// Configs are the topic's effective configuration values (its own or
	// the broker's default) by key: "min.insync.replicas",
	// "retention.ms", "cleanup.policy", "retention.bytes"...
	Configs map[string]string `json:"configs"`
}

// Subject is a product's schema registry subject.
type Subject struct {
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	// Compatibility is the subject's compatibility level, or the
	// registry's global one when the subject has none: BACKWARD,
	// BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL,
	// FULL_TRANSITIVE or NONE.
	Compatibility string `json:"compatibility,omitempty"`
	// Version is the latest version's number; Type its schema type
	// (AVRO, PROTOBUF, JSON).
	Version int    `json:"version,omitempty"`
	Type    string `json:"type,omitempty"`
	// Fields are the dotted paths of the latest schema's fields
	// (customer.id), records nested; for a Protobuf schema, the first
	// message's fields.
	Fields []string `json:"fields,omitempty"`
}

// ACL is one access control entry on a topic, as Kafka describes it.
type ACL struct {
	Principal    string `json:"principal"`     // "User:*", "User:alice"
	Host         string `json:"host"`          // "*"
	ResourceName string `json:"resource_name"` // a topic name, a prefix, or "*"
	PatternType  string `json:"pattern_type"`  // LITERAL or PREFIXED
	Operation    string `json:"operation"`     // READ, WRITE, ALL…
	Permission   string `json:"permission"`    // ALLOW or DENY
}
