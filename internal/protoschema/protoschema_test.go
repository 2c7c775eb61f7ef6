package protoschema

import (
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	fd, err := Compile(t.Context(), `syntax = "proto3"; import "common.proto"; import "google/protobuf/timestamp.proto";
message Order { string id = 1; Money total = 2; google.protobuf.Timestamp at = 3; }`,
		map[string]string{"common.proto": `syntax = "proto3"; message Money { int64 units = 1; }`})
	if err != nil {
		t.Fatal(err)
	}
	if m := fd.Messages().ByName("Order"); m == nil || m.Fields().ByName("total").Message().Name() != "Money" {
		t.Errorf("Order did not compile with its import: %v", fd.Messages())
	}
	if _, err := Compile(t.Context(), `syntax = "proto3"; import "missing.proto";`, nil); err == nil || !strings.HasPrefix(err.Error(), "protobuf schema: ") {
		t.Errorf("an unresolved import: %v, want a protobuf schema error", err)
	}
}
