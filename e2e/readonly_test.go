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
		// cause is what the message must say is wrong.
		cause string
	}{
		{"read-only directory", func(t *testing.T, c *catalog) func() {
			c.share(t, 0o755)
			c.cred = nobody // the directory and the file are root's, 0755 and 0644
			return func() { c.cred = nil }
		}, "permission denied"},
		{"read-only file", func(t *testing.T, c *catalog) func() {
			c.share(t, 0o777)
			c.cred = nobody // may create files beside the catalog, not write it
			return func() { c.cred = nil }
		}, "read-only"},
		{"read-only mount", func(t *testing.T, c *catalog) func() {
			return mountReadOnly(t, filepath.Dir(c.path))
		}, "read-only file system"},
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
			if !strings.Contains(msg, c.path) || !strings.Contains(msg, tc.cause) {
				t.Errorf("the message should name the catalog and say %q: %q", tc.cause, msg)
			}
			if after := fileState(t, c.path); after != before {
				t.Errorf("the catalog changed: before %s, after %s", before, after)
			}
			assertCatalog(t, c.path, refA)
		})
	}
}

// mountReadOnly bind-mounts dir over itself read-only and returns what
// unmounts it; it skips the test where mounting is not allowed.
func mountReadOnly(t *testing.T, dir string) (umount func()) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount here (%v: %s); the other cases cover read-only catalogs", err, strings.TrimSpace(string(out)))
	}
	umount = func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	}
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		umount()
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	return umount
}

// TestQueriesOnReadOnlyCatalog reads a catalog that nobody can write, on a
// read-only mount, with and without a lock file beside it: every command that
// only reads it (find, dupes, lookup, stats, health, backup --list, and a
// backup to a writable place) exits 0 and answers as it did before the mount,
// and nothing beside the catalog changes; a scan fails naming the read-only
// file system. As an unprivileged user in a directory it may not write, with
// no lock file beside the catalog, a query fails naming the cause,
// permission denied, not a missing lock file.
func TestQueriesOnReadOnlyCatalog(t *testing.T) {
	needRoot(t)
	a := smallTree(t, 100, 10)
	var file string
	for p := range a.files {
		// A copy outside the tree: lookup does not count a file as a match
		// for itself.
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		file = filepath.Join(t.TempDir(), "copy")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		break
	}
	queries := [][]string{
		{"--json", "find"},
		{"--json", "dupes"},
		{"--json", "lookup", file},
		{"--json", "stats"},
		{"--json", "backup", "--list"},
	}
	for _, lock := range []string{"no lock file", "a lock file"} {
		t.Run(lock, func(t *testing.T) {
			c := newCatalog(t)
			c.scan(0, a.root)
			c.mustRun(0, "backup")
			if lock == "no lock file" {
				if err := os.Remove(c.path + ".lock"); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{}
			for _, q := range queries {
				want[strings.Join(q, " ")] = c.mustRun(0, q...).stdout
			}
			dir := filepath.Dir(c.path)
			before := dirState(t, dir)
			defer mountReadOnly(t, dir)()

			for _, q := range queries {
				if got := c.mustRun(0, q...).stdout; got != want[strings.Join(q, " ")] {
					t.Errorf("%s on the read-only catalog printed\n%s\nwant\n%s", strings.Join(q, " "), got, want[strings.Join(q, " ")])
				}
			}
			c.health()
			dst := filepath.Join(tempDir(t), "copy.db")
			c.mustRun(0, "backup", dst)
			assertCatalog(t, dst, reference(t, a.root, a.files))

			r := c.run("scan", "--quiet", a.root)
			if r.code != 1 {
				t.Fatalf("want exit 1 for a scan into a read-only catalog, got %s", r)
			}
			if msg := oneSentence(t, r); !strings.Contains(msg, c.path) || !strings.Contains(msg, "read-only file system") {
				t.Errorf("the message should name the catalog and its read-only file system: %q", msg)
			}
			if after := dirState(t, dir); after != before {
				t.Errorf("the catalog's directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	t.Run("permission denied", func(t *testing.T) {
		c := newCatalog(t)
		c.scan(0, a.root)
		if err := os.Remove(c.path + ".lock"); err != nil {
			t.Fatal(err)
		}
		before := dirState(t, filepath.Dir(c.path))
		c.cred = nobody // the directory and the file are root's, 0755 and 0644
		for _, q := range [][]string{{"find"}, {"stats"}, {"scan", "--quiet", a.root}} {
			r := c.run(q...)
			if r.code != 1 {
				t.Fatalf("want exit 1, got %s", r)
			}
			msg := oneSentence(t, r)
			if !strings.Contains(msg, c.path) || !strings.Contains(msg, "permission denied") || strings.Contains(msg, "no such file") {
				t.Errorf("%s: the message should name the catalog and say permission denied: %q", q[0], msg)
			}
		}
		c.cred = nil
		if after := dirState(t, filepath.Dir(c.path)); after != before {
			t.Errorf("the catalog's directory changed:\nbefore %s\nafter  %s", before, after)
		}
	})
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
