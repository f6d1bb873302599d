package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyUnreadableAndCorrupt runs verify through the binary: as an
// unprivileged user, a file only root may read is unreadable (exit 3), and
// as root a byte flipped with size and mtime put back is corrupt (exit 4).
func TestVerifyUnreadableAndCorrupt(t *testing.T) {
	c := newCatalog(t)
	root := tempDir(t)
	good, secret := filepath.Join(root, "good.txt"), filepath.Join(root, "secret.txt")
	if err := os.WriteFile(good, []byte("everyone may read this"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.scan(0, root)
	// The catalog becomes nobody's, so that nobody can record verifications.
	dir := filepath.Dir(c.path)
	for _, p := range []string{dir, c.path, c.path + "-wal", c.path + "-shm", c.path + ".lock"} {
		if err := os.Lchown(p, int(nobody.Uid), int(nobody.Gid)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	c.cred = nobody
	r := c.mustRun(3, "verify", "--json")
	var rep struct {
		Checked, OK, Unreadable int
		Findings                []struct{ Path, Outcome, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, r.stdout)
	}
	if rep.Checked != 2 || rep.OK != 1 || rep.Unreadable != 1 || len(rep.Findings) != 1 ||
		rep.Findings[0].Path != secret || rep.Findings[0].Outcome != "unreadable" || rep.Findings[0].Detail != "permission denied" {
		t.Errorf("verify as nobody: %+v; want secret.txt unreadable: permission denied", rep)
	}

	c.cred = nil
	st, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("everyone may read thiS"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(good, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	r = c.mustRun(4, "verify", good)
	if want := "corrupt     " + good; len(r.stdout) < len(want) || r.stdout[:len(want)] != want {
		t.Errorf("verify after a byte flip printed\n%s\nwant a line starting %q", r.stdout, want)
	}
	c.mustRun(0, "verify", "--accept", good)
	c.mustRun(0, "verify", good)
}
