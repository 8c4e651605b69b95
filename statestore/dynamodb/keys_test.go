package dynamodb

import (
	"reflect"
	"testing"
	"time"

	"github.com/sockerless/sockerless/statestore"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"record pk", recordPK("container"), "r#container"},
		{"record pk with separator", recordPK("a#b"), "r#a#b"},
		{"name pk", namePK("image"), "n#image"},
		{"group key", groupKey("exec", "c1"), "4:exec#c1"},
		{"group key with separator in kind", groupKey("a#b", "c"), "3:a#b#c"},
		{"group key with separator in group", groupKey("a", "b#c"), "1:a#b#c"},
		{"time key", timeKey(time.Unix(0, 42)), "00000000000000000042"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestGroupKeyUnambiguous checks that no two (kind, group) pairs share a
// group index partition.
func TestGroupKeyUnambiguous(t *testing.T) {
	pairs := [][2]string{{"a#b", "c"}, {"a", "b#c"}, {"1:a", "b"}, {"a", "1:b"}, {"ab", ""}, {"a", "b"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := groupKey(p[0], p[1])
		if prev, ok := seen[k]; ok {
			t.Errorf("groupKey%v == groupKey%v == %q", p, prev, k)
		}
		seen[k] = p
	}
}

func TestExpiryRoundTrip(t *testing.T) {
	exp := time.Unix(100, 5)
	item := recordItem(recordFor(exp))
	if got := expiry(item); !got.Equal(exp) {
		t.Errorf("expiry() = %v, want %v", got, exp)
	}
	if got := getN(item, attrTTL); got != 101 {
		t.Errorf("ttl = %d, want 101 (rounded up to whole seconds)", got)
	}
	if got := itemRecord("k", item); !reflect.DeepEqual(got, recordFor(exp)) {
		t.Errorf("itemRecord(recordItem(r)) = %+v, want %+v", got, recordFor(exp))
	}
	if live(item, time.Unix(100, 5)) || !live(item, time.Unix(100, 4)) {
		t.Error("live() boundary wrong: a record is live strictly before it expires")
	}
}

func recordFor(exp time.Time) statestore.Record {
	return statestore.Record{Kind: "k", ID: "a", Names: []string{"x", "y"}, Group: "g", Data: []byte("d"), Version: 3, Expires: exp}
}
