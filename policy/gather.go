package policy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/meshwatch/meshwatch/internal/protoschema"
)

// GatherOptions says what Gather reads besides the topics.
type GatherOptions struct {
	// Registry is the schema registry Subjects are read from; nil: no
	// subject is read and Cluster.Subjects stays nil.
	Registry *sr.Client
	// Subjects are the registry subjects to read: the products'
	// <topic>-value subjects. Duplicates are read once.
	Subjects []string
	// SubjectsOf, when set, adds the subjects of the topics read (sorted
	// names): those of the topics a product's pattern selects, which only
	// the cluster knows.
	SubjectsOf func(topics []string) []string
	// ACLs makes Gather read the cluster's ACLs on topics (one
	// DescribeACLs). A cluster without an authorizer (SECURITY_DISABLED)
	// or one that denies the request leaves Cluster.ACLs nil (unknown),
	// which is not an error.
	ACLs bool
}

// gatherConfigBatch is how many topics one DescribeConfigs request names.
// One request for every topic would do, but at tens of thousands of topics
// its answer (every config of every topic, with synonyms) runs into tens of
// megabytes; batches keep each answer to a few.
const gatherConfigBatch = 1000

// gatherRegistryWorkers bounds the registry requests in flight.
const gatherRegistryWorkers = 8

// gatherMaxRefDepth bounds how deep schema references nest.
const gatherMaxRefDepth = 10

// Gather reads what the policies need from the cluster adm administers:
//
//   - every topic but the internal ones (names starting with "__"), from
//     one Metadata request (kadm's ListTopics, served from the client's
//     metadata cache when it is younger than the client's MetadataMinAge),
//     with its partition count, its replication factor (the fewest
//     replicas any of its partitions lists; 0 if none lists any) and its
//     effective configuration:
//     every key DescribeConfigs returns with a value, the topic's own
//     value or the broker's default (min.insync.replicas, retention.ms,
//     retention.bytes, cleanup.policy...), as the broker writes it. Topics
//     are described gatherConfigBatch (1,000) to a request;
//   - with opts.ACLs, the ACLs on topics, from one DescribeACLs request;
//     a cluster without an authorizer, or one that does not let the client
//     describe ACLs, leaves ACLs nil, unknown; a cluster that answers with
//     no ACL gives an empty, non-nil slice;
//   - with opts.Registry, each of opts.Subjects: its latest version, schema
//     type and field paths (SchemaFields; references are fetched), and its
//     compatibility level, the subject's own or else the registry's global
//     one.
//
// The Cluster returned is Online. An error listing the topics or reading
// their configs is returned with a nil Cluster. Other errors are joined into
// the error returned with the Cluster, whose other parts are filled: an
// error describing ACLs (other than no authorizer or a denial) leaves ACLs
// nil; a subject the registry does not have is present with Exists false,
// a subject whose latest version could not be read is absent (unknown),
// and one whose compatibility or schema could not be read lacks only that.
func Gather(ctx context.Context, adm *kadm.Client, opts GatherOptions) (*Cluster, error) {
	if adm == nil {
		return nil, errors.New("policy: gather: no admin client")
	}
	topics, err := gatherTopics(ctx, adm)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Topics: topics, Online: true}

	var errs []error
	if opts.ACLs {
		acls, err := gatherACLs(ctx, adm)
		if err != nil {
			errs = append(errs, err)
		}
		c.ACLs = acls
	}
	if opts.Registry != nil {
		want := opts.Subjects
		if opts.SubjectsOf != nil {
			want = append(slices.Clone(want), opts.SubjectsOf(slices.Sorted(maps.Keys(c.Topics)))...)
		}
		subjects, err := gatherSubjects(ctx, opts.Registry, want)
		if err != nil {
			errs = append(errs, err)
		}
		c.Subjects = subjects
	}
	return c, errors.Join(errs...)
}

// gatherTopics lists the topics and describes their configs.
func gatherTopics(ctx context.Context, adm *kadm.Client) (map[string]Topic, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: list topics: %w", err)
	}
	topics := make(map[string]Topic, len(details))
	for name, d := range details {
		// ListTopics leaves out the topics the broker flags internal;
		// the "__" topics of other systems (__consumer_offsets of an
		// older broker, Connect's, Schema Registry's __schemas...) are
		// left out too.
		if strings.HasPrefix(name, "__") {
			continue
		}
		switch {
		case errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			continue // deleted while being listed
		case d.Err != nil:
			return nil, fmt.Errorf("policy: list topics: topic %s: %w", name, d.Err)
		}
		// The fewest replicas of a partition that lists them: a
		// partition being reassigned lists more, and one that failed to
		// load (a partition-level error) may list none.
		rf := 0
		for _, p := range d.Partitions.Sorted() {
			if n := len(p.Replicas); n > 0 && (rf == 0 || n < rf) {
				rf = n
			}
		}
		topics[name] = Topic{
			Name:              name,
			Partitions:        len(d.Partitions),
			ReplicationFactor: rf,
			Configs:           map[string]string{},
		}
	}

	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	slices.Sort(names)
	for batch := range slices.Chunk(names, gatherConfigBatch) {
		rcs, err := adm.DescribeTopicConfigs(ctx, batch...)
		if err != nil {
			return nil, fmt.Errorf("policy: describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			t, ok := topics[rc.Name]
			switch {
			case !ok:
				continue
			case errors.Is(rc.Err, kerr.UnknownTopicOrPartition):
				delete(topics, rc.Name) // deleted since it was listed
				continue
			case rc.Err != nil:
				return nil, fmt.Errorf("policy: describe topic configs: topic %s: %w", rc.Name, rc.Err)
			}
			for _, cfg := range rc.Configs {
				if cfg.Value != nil {
					t.Configs[cfg.Key] = *cfg.Value
				}
			}
		}
	}
	return topics, nil
}

// gatherACLs describes every ACL on topics, whatever its pattern, principal,
// host, operation and permission, in one request.
func gatherACLs(ctx context.Context, adm *kadm.Client) ([]ACL, error) {
	b := kadm.NewACLs().
		Topics().
		Allow().AllowHosts().
		Deny().DenyHosts().
		Operations().
		ResourcePatternType(kadm.ACLPatternAny)
	results, err := adm.DescribeACLs(ctx, b)
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, kerr.SecurityDisabled),
		errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TopicAuthorizationFailed):
		return nil, nil // unknown: no authorizer, or not ours to see
	default:
		return nil, fmt.Errorf("policy: describe acls: %w", err)
	}
	acls := []ACL{}
	for _, r := range results {
		for _, d := range r.Described {
			acls = append(acls, ACL{
				Principal:    d.Principal,
				Host:         d.Host,
				ResourceName: d.Name,
				PatternType:  d.Pattern.String(),
				Operation:    d.Operation.String(),
				Permission:   d.Permission.String(),
			})
		}
	}
	slices.SortFunc(acls, func(a, b ACL) int {
		return cmp.Or(
			cmp.Compare(a.ResourceName, b.ResourceName),
			cmp.Compare(a.PatternType, b.PatternType),
			cmp.Compare(a.Principal, b.Principal),
			cmp.Compare(a.Host, b.Host),
			cmp.Compare(a.Operation, b.Operation),
			cmp.Compare(a.Permission, b.Permission),
		)
	})
	return slices.Compact(acls), nil
}

// gatherSubjects reads subjects from the registry, gatherRegistryWorkers at
// a time. Errors are joined in the order of the subjects.
func gatherSubjects(ctx context.Context, reg *sr.Client, subjects []string) (map[string]Subject, error) {
	names := slices.Clone(subjects)
	slices.Sort(names)
	names = slices.Compact(names)

	var (
		out  = make([]Subject, len(names))
		ok   = make([]bool, len(names))
		errs = make([]error, len(names))
		g    = &gatherRegistryGlobal{reg: reg}
		next = make(chan int)
		wg   sync.WaitGroup
	)
	for range min(gatherRegistryWorkers, len(names)) {
		wg.Go(func() {
			for i := range next {
				out[i], ok[i], errs[i] = gatherSubject(ctx, reg, g, names[i])
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()

	m := make(map[string]Subject, len(names))
	for i, s := range out {
		if ok[i] {
			m[s.Name] = s
		}
	}
	return m, errors.Join(errs...)
}

// gatherRegistryGlobal is the registry's global compatibility level, read
// once and only if a subject has no level of its own.
type gatherRegistryGlobal struct {
	reg   *sr.Client
	once  sync.Once
	level string
	err   error
}

func (g *gatherRegistryGlobal) get(ctx context.Context) (string, error) {
	g.once.Do(func() {
		r := g.reg.Compatibility(ctx)[0]
		g.level, g.err = r.Level.String(), r.Err
	})
	return g.level, g.err
}

// gatherSubject reads one subject. ok is false when the subject's latest
// version could not be read for another reason than its absence.
func gatherSubject(ctx context.Context, reg *sr.Client, g *gatherRegistryGlobal, name string) (s Subject, ok bool, err error) {
	s = Subject{Name: name}
	ss, err := reg.SchemaByVersion(ctx, name, -1)
	switch {
	case gatherRegistryNotFound(err, 40401, 40402, 40404):
		// The subject is not there; its compatibility still is.
	case err != nil:
		return s, false, fmt.Errorf("policy: subject %s: %w", name, err)
	default:
		s.Exists = true
		s.Version = ss.Version
		s.Type = ss.Type.String()
	}

	var errs []error
	if level, err := gatherSubjectCompatibility(ctx, reg, g, name); err != nil {
		errs = append(errs, fmt.Errorf("policy: subject %s: compatibility: %w", name, err))
	} else {
		s.Compatibility = level
	}

	if s.Exists && (ss.Type == sr.TypeAvro || ss.Type == sr.TypeProtobuf) {
		fields, err := gatherRegistrySchemaFields(ctx, reg, ss.Schema)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: subject %s version %d: %w", name, ss.Version, err))
		} else {
			s.Fields = fields
		}
	}
	return s, true, errors.Join(errs...)
}

// gatherSubjectCompatibility returns the subject's compatibility level, or
// the global one. The registry is asked to default to the global level
// itself; one that does not is asked for it.
func gatherSubjectCompatibility(ctx context.Context, reg *sr.Client, g *gatherRegistryGlobal, name string) (string, error) {
	r := reg.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), name)[0]
	switch {
	case gatherRegistryNotFound(r.Err, 40401, 40408):
		return g.get(ctx)
	case r.Err != nil:
		return "", r.Err
	}
	return r.Level.String(), nil
}

// gatherRegistryNotFound says whether err is a registry's 404 answer with
// one of codes. A 404 without a registry error code (a wrong URL) is not.
func gatherRegistryNotFound(err error, codes ...int) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && slices.Contains(codes, re.ErrorCode)
}

// gatherSchemaRef is a referenced schema's text under the name it is
// referenced by.
type gatherSchemaRef struct {
	name, text string
}

// gatherRegistrySchemaFields returns the field paths of a registry schema,
// fetching the schemas it references.
func gatherRegistrySchemaFields(ctx context.Context, reg *sr.Client, s sr.Schema) ([]string, error) {
	var refs []gatherSchemaRef
	if err := gatherFetchSchemaRefs(ctx, reg, s.References, &refs, map[string]bool{}, 0); err != nil {
		return nil, err
	}
	return gatherSchemaFields(ctx, s.Type, s.Schema, refs)
}

// gatherFetchSchemaRefs appends the schemas refs name to into, each after
// the schemas it references itself.
func gatherFetchSchemaRefs(ctx context.Context, reg *sr.Client, refs []sr.SchemaReference, into *[]gatherSchemaRef, seen map[string]bool, depth int) error {
	if depth > gatherMaxRefDepth {
		return errors.New("schema references nest too deep")
	}
	for _, r := range refs {
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		ss, err := reg.SchemaByVersion(ctx, r.Subject, r.Version)
		if err != nil {
			return fmt.Errorf("schema reference %s: %w", r.Name, err)
		}
		if err := gatherFetchSchemaRefs(ctx, reg, ss.References, into, seen, depth+1); err != nil {
			return err
		}
		*into = append(*into, gatherSchemaRef{name: r.Name, text: ss.Schema.Schema})
	}
	return nil
}

// SchemaFields returns the dotted paths of the fields of a schema as a
// registry holds it, in the schema's order, a field before the fields
// nested in it:
//
//   - typ AVRO (or ""): the fields of the top-level record, following
//     nested records and unions of null and one record
//     (customer, customer.id, customer.name);
//   - typ PROTOBUF: the fields of the file's first message, following
//     singular fields of message type (google.protobuf.Timestamp, a value
//     to the policies as to the quality rules, is not followed).
//
// Arrays, maps and repeated fields are not followed, nor is a type nested
// in itself. A schema that references other schemas cannot be read here;
// Gather fetches references itself. Another type is an error.
func SchemaFields(typ, schema string) ([]string, error) {
	var t sr.SchemaType
	switch strings.ToUpper(typ) {
	case "", "AVRO":
		t = sr.TypeAvro
	case "PROTOBUF":
		t = sr.TypeProtobuf
	default:
		return nil, fmt.Errorf("schema type %q has no field paths", typ)
	}
	return gatherSchemaFields(context.Background(), t, schema, nil)
}

func gatherSchemaFields(ctx context.Context, typ sr.SchemaType, schema string, refs []gatherSchemaRef) ([]string, error) {
	switch typ {
	case sr.TypeAvro:
		return gatherAvroSchemaFields(schema, refs)
	case sr.TypeProtobuf:
		return gatherProtoSchemaFields(ctx, schema, refs)
	}
	return nil, fmt.Errorf("schema type %s has no field paths", typ)
}

func gatherAvroSchemaFields(schema string, refs []gatherSchemaRef) ([]string, error) {
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if _, err := avro.ParseWithCache(r.text, "", cache); err != nil {
			return nil, fmt.Errorf("avro reference %s: %w", r.name, err)
		}
	}
	sch, err := avro.ParseWithCache(schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	rec := gatherAvroRecord(sch)
	if rec == nil {
		return nil, fmt.Errorf("avro schema is a %s, not a record", sch.Type())
	}
	var out []string
	gatherAvroRecordFields(rec, "", map[string]bool{}, &out)
	return out, nil
}

// gatherAvroRecord returns the record s is, refers to, or is a union of
// with null only; else nil.
func gatherAvroRecord(s avro.Schema) *avro.RecordSchema {
	switch s := s.(type) {
	case *avro.RecordSchema:
		return s
	case *avro.RefSchema:
		return gatherAvroRecord(s.Schema())
	case *avro.UnionSchema:
		var rec *avro.RecordSchema
		for _, m := range s.Types() {
			if m.Type() == avro.Null {
				continue
			}
			r := gatherAvroRecord(m)
			if r == nil || rec != nil {
				return nil
			}
			rec = r
		}
		return rec
	}
	return nil
}

// gatherAvroRecordFields appends the paths of rec's fields under prefix;
// onPath holds the records being walked, so that a recursive record stops.
func gatherAvroRecordFields(rec *avro.RecordSchema, prefix string, onPath map[string]bool, out *[]string) {
	onPath[rec.FullName()] = true
	defer delete(onPath, rec.FullName())
	for _, f := range rec.Fields() {
		path := prefix + f.Name()
		*out = append(*out, path)
		if sub := gatherAvroRecord(f.Type()); sub != nil && !onPath[sub.FullName()] {
			gatherAvroRecordFields(sub, path+".", onPath, out)
		}
	}
}

func gatherProtoSchemaFields(ctx context.Context, schema string, refs []gatherSchemaRef) ([]string, error) {
	files := make(map[string]string, len(refs))
	for _, r := range refs {
		files[r.name] = r.text
	}
	fd, err := protoschema.Compile(ctx, schema, files)
	if err != nil {
		return nil, err
	}
	msgs := fd.Messages()
	if msgs.Len() == 0 {
		return nil, errors.New("protobuf schema has no message")
	}
	var out []string
	gatherProtoMessageFields(msgs.Get(0), "", map[protoreflect.FullName]bool{}, &out)
	return out, nil
}

// gatherProtoMessageFields appends the paths of md's fields under prefix;
// onPath holds the messages being walked, so that a recursive message stops.
func gatherProtoMessageFields(md protoreflect.MessageDescriptor, prefix string, onPath map[protoreflect.FullName]bool, out *[]string) {
	onPath[md.FullName()] = true
	defer delete(onPath, md.FullName())
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		path := prefix + string(fd.Name())
		*out = append(*out, path)
		if fd.IsList() || fd.IsMap() {
			continue
		}
		if k := fd.Kind(); k != protoreflect.MessageKind && k != protoreflect.GroupKind {
			continue
		}
		sub := fd.Message()
		if sub.FullName() == "google.protobuf.Timestamp" || onPath[sub.FullName()] {
			continue
		}
		gatherProtoMessageFields(sub, path+".", onPath, out)
	}
}
