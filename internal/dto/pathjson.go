package dto

import (
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// PathB64 returns the standard base64 of the bytes of p when p is not valid
// UTF-8, and "" when it is. JSON output prints every path as "path" (a string,
// in which encoding/json replaces invalid bytes with U+FFFD) and, only when
// PathB64 is not empty, "path_b64" beside it, so that any name round-trips.
func PathB64(p string) string {
	if utf8.ValidString(p) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(p))
}

// PathsB64 is PathB64 for a list of paths printed as one JSON array: nil when
// every path is valid UTF-8, else one entry per path ("" for a valid one).
// JSON output prints it as "<name>_b64" beside the array, only when not nil.
func PathsB64(ps []string) []string {
	var out []string
	for i, p := range ps {
		b := PathB64(p)
		if b == "" {
			continue
		}
		if out == nil {
			out = make([]string, len(ps))
		}
		out[i] = b
	}
	return out
}

// DecodePath returns the exact bytes of a path read back from JSON: the
// decoded b64 when it is set, s otherwise. It fails only on malformed base64.
func DecodePath(s, b64 string) (string, error) {
	if b64 == "" {
		return s, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// MarshalJSON adds "path_b64" and "archive_path_b64" where the path is not
// valid UTF-8 (see PathB64).
func (l Location) MarshalJSON() ([]byte, error) {
	type plain Location
	return json.Marshal(struct {
		plain
		PathB64        string `json:"path_b64,omitempty"`
		ArchivePathB64 string `json:"archive_path_b64,omitempty"`
	}{plain(l), PathB64(l.Path), PathB64(l.ArchivePath)})
}

// MarshalJSON adds "roots_b64" where a root is not valid UTF-8 (see PathsB64).
func (s Scan) MarshalJSON() ([]byte, error) {
	type plain Scan
	return json.Marshal(struct {
		plain
		RootsB64 []string `json:"roots_b64,omitempty"`
	}{plain(s), PathsB64(s.Roots)})
}

// MarshalJSON adds "roots_b64" where a root is not valid UTF-8 (see PathsB64).
func (s ScanSummary) MarshalJSON() ([]byte, error) {
	type plain ScanSummary
	return json.Marshal(struct {
		plain
		RootsB64 []string `json:"roots_b64,omitempty"`
	}{plain(s), PathsB64(s.Roots)})
}
