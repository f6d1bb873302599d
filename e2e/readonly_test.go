package e2e

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestReadOnlyCatalog points a scan at a catalog it may not write: a
// directory it may not write to, a file it may not write (both as an
// unprivileged user, since root writes anyway), and a read-only mount. The
// scan fails with one clear sentence naming the catalog and exit 1, without
// a crash, and the catalog keeps exactly what it held.
func TestReadOnlyCatalog(t *testing.T) {
	needRoot(t)
	a := smallTree(t, 200, 6)
	b := smallTree(t, 200, 7)
	refA := reference(t, a.root, a.files)

	cases := []struct {
		name string
		// setup makes c read-only for the next run and returns what undoes it.
		setup func(t *testing.T, c *catalog) (undo func())
	}{
		{"read-only directory", func(t *testing.T, c *catalog) func() {
			c.share(t, 0o755)
			c.cred = nobody // the directory and the file are root's, 0755 and 0644
			return func() { c.cred = nil }
		}},
		{"read-only file", func(t *testing.T, c *catalog) func() {
			c.share(t, 0o777)
			c.cred = nobody // may create files beside the catalog, not write it
			return func() { c.cred = nil }
		}},
		{"read-only mount", func(t *testing.T, c *catalog) func() {
			dir := filepath.Dir(c.path)
			if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
				t.Skipf("cannot bind-mount here (%v: %s); the other cases cover read-only catalogs", err, strings.TrimSpace(string(out)))
			}
			umount := func() {
				if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", dir, err, out)
				}
			}
			if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
				umount()
				t.Fatalf("remount read-only: %v: %s", err, out)
			}
			return umount
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatalog(t)
			c.scan(0, a.root)
			before := fileState(t, c.path)
			undo := tc.setup(t, c)
			r := c.run("scan", "--quiet", b.root)
			undo()
			if r.code != 1 {
				t.Fatalf("want exit 1 on a read-only catalog, got %s", r)
			}
			msg := oneSentence(t, r)
			t.Log(msg)
			if !strings.Contains(msg, c.path) || !strings.Contains(msg, "read-only") {
				t.Errorf("the message should name the catalog and say it is read-only: %q", msg)
			}
			if after := fileState(t, c.path); after != before {
				t.Errorf("the catalog changed: before %s, after %s", before, after)
			}
			assertCatalog(t, c.path, refA)
		})
	}
}

// TestBogusCatalogPath points --db at a directory, at a file that is not
// SQLite, and at another program's SQLite database: one clear sentence,
// exit 1, and nothing touched.
func TestBogusCatalogPath(t *testing.T) {
	a := smallTree(t, 20, 8)
	cases := []struct {
		name  string
		make  func(t *testing.T, p string)
		words string
	}{
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, "keep"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "is a directory"},
		{"not SQLite", func(t *testing.T, p string) {
			text := bytes.Repeat([]byte("my notes, not a database\n"), 200)
			if err := os.WriteFile(p, text, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not an SQLite database"},
		{"another program's database", func(t *testing.T, p string) {
			d, err := sql.Open("sqlite", p)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.Exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)"); err != nil {
				t.Fatal(err)
			}
		}, "another program"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatalog(t)
			tc.make(t, c.path)
			// The empty lock file every opener takes first may appear; nothing
			// else may change.
			lock := c.path + ".lock 0 bytes"
			before := dirState(t, filepath.Dir(c.path), lock)
			for _, args := range [][]string{{"scan", "--quiet", a.root}, {"health"}} {
				r := c.run(args...)
				if r.code != 1 {
					t.Fatalf("want exit 1, got %s", r)
				}
				if args[0] == "scan" {
					msg := oneSentence(t, r)
					t.Log(msg)
					if !strings.Contains(msg, c.path) || !strings.Contains(msg, tc.words) {
						t.Errorf("the message should name %s and say it %s: %q", c.path, tc.words, msg)
					}
				} else {
					noPanic(t, r)
				}
				if after := dirState(t, filepath.Dir(c.path), lock); after != before {
					t.Fatalf("%s changed the catalog's directory:\nbefore %s\nafter  %s", args[0], before, after)
				}
			}
		})
	}
}

// fileState describes the file at p by its size and content hash.
func fileState(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d bytes %x", len(b), sha256.Sum256(b))
}

// dirState describes every entry below dir with its size and content hash,
// to tell whether anything was created, removed or written. Entries whose
// description starts with one of ignore are left out.
func dirState(t testing.TB, dir string, ignore ...string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		line := p
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line = fmt.Sprintf("%s %d bytes %x", p, len(b), sha256.Sum256(b))
		}
		for _, ig := range ignore {
			if strings.HasPrefix(line, ig) {
				return nil
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}
