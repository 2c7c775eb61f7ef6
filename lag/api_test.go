package lag

import (
	"encoding/json"
	"testing"
)

// TestGroupLagJSON pins the fields of a group in
// /api/v1/products/{name}/lag that users rely on (issue 17: kept, and the
// group's type added).
func TestGroupLagJSON(t *testing.T) {
	b, err := json.Marshal(GroupLag{Group: "g", Type: TypeShare, Members: 2, Status: StatusWarn, LagRecords: 7, LagSeconds: 3, NoData: true, LowerBound: true})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"group": "g", "type": "share", "members": 2.0, "status": "WARN", "lag_records": 7.0, "lag_seconds": 3.0, "no_data": true, "lower_bound": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, got[k], v, b)
		}
	}
}
