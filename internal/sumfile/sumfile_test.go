package sumfile

import (
	"bytes"
	"strings"
	"testing"
)

// TestSumRoundTrip writes names coreutils must escape and reads them back.
func TestSumRoundTrip(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	names := []string{"/plain", `/back\slash`, "/new\nline", "/cr\r", `\`, "/two  spaces", "/*star"}
	var b bytes.Buffer
	for _, n := range names {
		if err := WriteSum(&b, digest, n); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	format, err := Read(&b, func(e Entry) error {
		if e.SHA256 != digest || e.Size != -1 {
			t.Errorf("entry %+v", e)
		}
		got = append(got, e.Name)
		return nil
	})
	if err != nil || format != FormatSum {
		t.Fatalf("Read: %v, %q", err, format)
	}
	if strings.Join(got, "|") != strings.Join(names, "|") {
		t.Errorf("read back %q, want %q", got, names)
	}
}
