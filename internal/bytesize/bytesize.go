// Package bytesize reads and writes byte counts the way people type them:
// 1M, 10KiB, 1.5GB or plain bytes.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var units = map[string]float64{
	"": 1, "b": 1,
	// Bare letters are binary, as in du, sort -h and find -size.
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
	// SI units with a B are decimal.
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
}

// Parse reads a byte count: digits with an optional fraction, then an
// optional unit, case-insensitive. K, M, G, T, P and KiB... are powers of
// 1024; KB, MB, GB... are powers of 1000; B or nothing means bytes. A
// fractional result is rounded down. Negative, empty, malformed and
// out-of-range values are errors.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	dots := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		if t[i] == '.' {
			dots++
		}
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" || num == "." || dots > 1 {
		return 0, fmt.Errorf("size %q is not a number of bytes such as 4096, 10K, 1.5GB or 2MiB", s)
	}
	mult, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("size %q has unknown unit %q; use B, K, M, G, T, KB, MB, GB, TB, KiB, MiB, GiB or TiB", s, t[i:])
	}
	if dots == 0 {
		n, err := strconv.ParseInt(num, 10, 64)
		if err == nil && (mult == 1 || n <= math.MaxInt64/int64(mult)) {
			return n * int64(mult), nil
		}
		if err != nil && !isRange(err) {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		return 0, fmt.Errorf("size %q is too large", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	v := math.Floor(f * mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(v), nil
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// Format writes n bytes for people: "512 B", "1.5 KiB", "3.2 GiB".
func Format(n int64) string { return string(AppendFormat(nil, n)) }

// AppendFormat appends what Format writes to b: a listing formats its
// sizes into one buffer instead of a string each.
func AppendFormat(b []byte, n int64) []byte {
	const unit = 1024
	if n < unit && n > -unit {
		b = strconv.AppendInt(b, n, 10)
		return append(b, " B"...)
	}
	f := float64(n)
	exp := 0
	for math.Abs(f) >= unit && exp < 5 {
		f /= unit
		exp++
	}
	prec := 1
	if math.Abs(f) >= 100 {
		prec = 0
	}
	b = strconv.AppendFloat(b, f, 'f', prec, 64)
	b = append(b, ' ')
	return append(b, binaryUnits[exp]...)
}

var binaryUnits = [...]string{"", "KiB", "MiB", "GiB", "TiB", "PiB"}
