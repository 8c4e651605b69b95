package aztables

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"kind partition", kindPartition("container"), "k636f6e7461696e6572"},
		{"record row", recordRow("a/b"), "r:612f62"},
		{"name row", nameRow("web#1?"), "n:77656223313f"},
		{"group row", groupRow("c1", "e1"), "g:6331:6531"},
		{"group prefix end", prefixEnd(groupPrefix("c1")), "g:6331;"},
		{"record prefix end", prefixEnd("r:"), "r;"},
		{"odata quote", odataString("it's"), "'it''s'"},
		{"time key", timeKey(time.Unix(0, 42)), "00000000000000000042"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
			if strings.ContainsAny(tt.got, `/\#?`) {
				t.Errorf("key %q has a character Azure forbids in keys", tt.got)
			}
		})
	}
}

// TestRowKeysKeepOrder checks that the service's key order is id order.
func TestRowKeysKeepOrder(t *testing.T) {
	ids := []string{"a", "a/", "a0", "a#", "a\x00", "b", "é", "\xff", "~", "A", "a/b"}
	byRaw := append([]string(nil), ids...)
	sort.Strings(byRaw)
	byKey := append([]string(nil), ids...)
	sort.Slice(byKey, func(i, j int) bool { return recordRow(byKey[i]) < recordRow(byKey[j]) })
	for i := range byRaw {
		if byRaw[i] != byKey[i] {
			t.Fatalf("order by row key = %q, want %q", byKey, byRaw)
		}
	}
}

// TestGroupRowsStayInGroup checks that no group's key range holds another
// group's rows.
func TestGroupRowsStayInGroup(t *testing.T) {
	lo, hi := groupPrefix("a"), prefixEnd(groupPrefix("a"))
	for _, k := range []string{groupRow("ab", "x"), groupRow("b", "x"), groupRow("", "x"), recordRow("x"), nameRow("x")} {
		if lo < k && k < hi {
			t.Errorf("row %q falls in group a's range [%q, %q)", k, lo, hi)
		}
	}
	if k := groupRow("a", "x"); !(lo < k && k < hi) {
		t.Errorf("row %q outside group a's range", k)
	}
}

func TestDataChunks(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize, chunkSize + 1, 3*chunkSize + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		e := newEntity("p", "r")
		e.setData(data)
		r, err := decodeRow(e.json())
		if err != nil {
			t.Fatal(err)
		}
		if got := r.data(); string(got) != string(data) {
			t.Errorf("data of %d bytes came back as %d bytes", n, len(got))
		}
	}
}

func TestTransactionStatus(t *testing.T) {
	body := "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n" +
		"--changesetresponse_2\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 409 Conflict\r\n\r\n" +
		`{"odata.error":{"code":"EntityAlreadyExists","message":{"value":"1:The specified entity already exists."}}}`
	if m := innerStatus.FindStringSubmatch(body); m == nil || m[1] != "409" {
		t.Fatalf("innerStatus found %q in a failed transaction body", m)
	}
	if m := innerCode.FindStringSubmatch(body); m == nil || m[1] != "EntityAlreadyExists" {
		t.Fatalf("innerCode found %q in a failed transaction body", m)
	}
}
