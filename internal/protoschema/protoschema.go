// Package protoschema compiles Protobuf schema text as a schema registry
// holds it — a .proto source and the sources it imports, by import path —
// into a file descriptor, with protocompile. Package quality decodes
// records with it; package policy lists a schema's fields.
package protoschema

import (
	"context"
	"fmt"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Main is the name the compiler knows the schema's own source by; an
// import of that name would be taken for it.
const Main = "meshwatch-registry-schema.proto"

// Compile compiles src with its imports (refs: import path → source; the
// standard google/protobuf imports need none) into a file descriptor. Its
// error starts with "protobuf schema: ".
func Compile(ctx context.Context, src string, refs map[string]string) (protoreflect.FileDescriptor, error) {
	files := map[string]string{Main: src}
	for name, text := range refs {
		files[name] = text
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(files),
		}),
		MaxParallelism: 1,
	}
	res, err := c.Compile(ctx, Main)
	if err != nil {
		return nil, fmt.Errorf("protobuf schema: %w", err)
	}
	return res[0], nil
}
