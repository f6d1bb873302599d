package bytesize

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"4096B", 4096},
		{"1b", 1},
		{"1K", 1024},
		{"1k", 1024},
		{"1M", 1 << 20},
		{"1G", 1 << 30},
		{"2T", 2 << 40},
		{"10KiB", 10240},
		{"10kib", 10240},
		{"3MiB", 3 << 20},
		{"1KB", 1000},
		{"1.5GB", 1_500_000_000},
		{"1.5 GB", 1_500_000_000},
		{"1.5K", 1536},
		{"0.5", 0},
		{" 7 ", 7},
		{".5M", 1 << 19},
		{"8E", -1},
		{"", -1},
		{"-1", -1},
		{"1..5K", -1},
		{".", -1},
		{"K", -1},
		{"1 2", -1},
		{"1e6", -1},
		{"9223372036854775807", 9223372036854775807},
		{"9223372036854775808", -1},
		{"8P", 8 << 50},
		{"9000P", -1},
		{"99999999999999999999.5", -1},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("Parse(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{300 << 30, "300 GiB"},
		{3 << 40, "3.0 TiB"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppendFormatKeepsWhatIsThere(t *testing.T) {
	if got := string(AppendFormat([]byte("size "), 1536)); got != "size 1.5 KiB" {
		t.Errorf("AppendFormat = %q", got)
	}
}
