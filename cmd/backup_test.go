package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// backupCmdRun runs the command line with stdin and returns the exit code and
// what went to stdout and stderr.
func backupCmdRun(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root, a := NewRoot(&out, &errOut)
	a.stdin = stdin
	code := run(context.Background(), root, args, &errOut)
	return code, out.String(), errOut.String()
}

// backupCmdFill opens the catalog at path and records n files under prefix,
// each with its own content named by tag.
func backupCmdFill(t *testing.T, path, prefix, tag string, n int) {
	t.Helper()
	ctx := context.Background()
	c, err := service.Open(ctx, path, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.UoW().Do(ctx, "test", func(ctx context.Context, r *uow.Repos) error {
		var files []dto.FileWithHash
		for i := range n {
			sum := fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%s%s%d", tag, prefix, i)))
			p := fmt.Sprintf("%s/%d", prefix, i)
			files = append(files, dto.FileWithHash{
				Hash: dto.FileHash{Size: int64(i), MD5: sum[:32], SHA1: sum[:40], SHA256: sum},
				FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: filepath.Base(p), Size: int64(i),
					Modified: time.Unix(1, 0), Scanned: time.Unix(2, 0), Operation: dto.OpAdd}})
		}
		return r.Files.UpsertMany(ctx, files)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// backupCmdRows lists the catalog's files as "path sha256", sorted.
func backupCmdRows(t *testing.T, path string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := service.Open(ctx, path, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rows []string
	err = c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return r.Files.Find(ctx, dto.FindFilter{MaxSize: -1, Deleted: true, IncludeArchived: true}, func(f dto.FileWithHash) error {
			if f.Hash.SHA256 != "" {
				rows = append(rows, f.Path+" "+f.Hash.SHA256)
			}
			return nil
		})
	})
	slices.Sort(rows)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func backupCmdSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "index.db")
	backupCmdFill(t, cat, "/a", "A", 25)

	code, out, errOut := backupCmdRun(t, nil, "--db", cat, "backup")
	if code != ExitOK || !strings.Contains(out, "backup written to "+filepath.Join(dir, "backups", "index-")) ||
		!strings.Contains(out, "files   25") || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = backupCmdRun(t, nil, "--db", cat, "backup", "--json")
	var b map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &b) != nil {
		t.Fatalf("backup --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, k := range []string{"path", "bytes", "files", "hashes", "schema_version", "integrity"} {
		if _, ok := b[k]; !ok {
			t.Errorf("backup --json lacks %q: %s", k, out)
		}
	}
	if b["files"] != 25.0 || b["hashes"] != 25.0 || b["integrity"] != "ok" || b["schema_version"] != float64(db.LatestVersion()) {
		t.Errorf("backup --json = %s", out)
	}

	code, out, _ = backupCmdRun(t, nil, "--db", cat, "backup", "--list")
	if code != ExitOK || strings.Count(out, filepath.Join(dir, "backups", "index-")) != 2 || !strings.HasPrefix(out, "TIME") {
		t.Errorf("backup --list: exit %d, stdout %q", code, out)
	}
	code, out, _ = backupCmdRun(t, nil, "--db", cat, "--json", "backup", "--list")
	var list []dto.Backup
	if code != ExitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[1].Path != b["path"] || list[0].Files != 25 {
		t.Errorf("backup --list --json: exit %d, stdout %q", code, out)
	}

	// An existing destination is refused without --force.
	dst := filepath.Join(t.TempDir(), "mine.db")
	if err := os.WriteFile(dst, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = backupCmdRun(t, nil, "--db", cat, "backup", dst)
	if code != ExitError || !strings.Contains(errOut, dst) || !strings.Contains(errOut, "--force") {
		t.Errorf("backup over an existing file: exit %d, stderr %q", code, errOut)
	}
	if got, _ := os.ReadFile(dst); string(got) != "keep me" {
		t.Error("backup without --force changed the existing file")
	}
	if code, _, errOut = backupCmdRun(t, nil, "--db", cat, "backup", dst, "--force"); code != ExitOK {
		t.Errorf("backup --force: exit %d, stderr %q", code, errOut)
	}

	if code, _, _ = backupCmdRun(t, nil, "--db", cat, "backup", "--list", dst); code != ExitUsage {
		t.Errorf("backup --list DEST: exit %d, want %d", code, ExitUsage)
	}
	missing := filepath.Join(t.TempDir(), "none.db")
	code, _, errOut = backupCmdRun(t, nil, "--db", missing, "backup")
	if code != ExitError || !strings.Contains(errOut, "no catalog at") {
		t.Errorf("backup of a missing catalog: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("backup created the missing catalog")
	}
}

// restoreCmdSetup makes a catalog in state A, backs it up, then moves it to
// state B. It returns the catalog, the backup and A's rows.
func restoreCmdSetup(t *testing.T) (cat, backup string, rowsA []string) {
	t.Helper()
	cat = filepath.Join(t.TempDir(), "index.db")
	backupCmdFill(t, cat, "/a", "A", 40)
	rowsA = backupCmdRows(t, cat)
	backup = filepath.Join(t.TempDir(), "a.db")
	if code, _, errOut := backupCmdRun(t, nil, "--db", cat, "backup", backup); code != ExitOK {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	backupCmdFill(t, cat, "/a", "B", 10)
	backupCmdFill(t, cat, "/b", "B", 10)
	return cat, backup, rowsA
}

func TestRestoreCommandRejectsBadSources(t *testing.T) {
	cat, good, _ := restoreCmdSetup(t)
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// A big backup, so that overwriting its middle hits many in-use pages.
	big := filepath.Join(t.TempDir(), "big.db")
	backupCmdFill(t, big, "/some/fairly/long/directory/name/to/fill/pages", "X", 4000)
	bigCopy := filepath.Join(t.TempDir(), "bigcopy.db")
	if code, _, errOut := backupCmdRun(t, nil, "--db", big, "backup", bigCopy); code != ExitOK {
		t.Fatalf("backup: %s", errOut)
	}
	bigBytes, err := os.ReadFile(bigCopy)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := slices.Clone(bigBytes)
	mid := len(corrupt) / 2
	copy(corrupt[mid:], bytes.Repeat([]byte{0xA5}, 16*4096))
	random := make([]byte, 32<<10)
	rand.Read(random)

	src := t.TempDir()
	files := map[string][]byte{
		"random.bin":     random,
		"notes.txt":      []byte("these are my notes, not a catalog\n"),
		"truncated.db":   goodBytes[:len(goodBytes)/2],
		"corrupted.db":   corrupt,
		"newer.db":       goodBytes,
		"otherprog.db":   nil,
		"does-not-exist": nil,
	}
	for name, b := range files {
		if b != nil {
			if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sqliteExec(t, filepath.Join(src, "otherprog.db"), "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)", "INSERT INTO photos (path) VALUES ('x.jpg')")
	sqliteExec(t, filepath.Join(src, "newer.db"), "INSERT INTO schema_migrations (version, name, applied_at) VALUES ("+strconv.Itoa(db.LatestVersion()+1)+", '9999_future.sql', 0)")

	sum := backupCmdSum(t, cat)
	rows := backupCmdRows(t, cat)
	if backupCmdSum(t, cat) != sum {
		t.Fatal("opening and closing the catalog changes its bytes; the comparison below would mean nothing")
	}
	for name, cause := range map[string]string{
		"random.bin":     "it is not an SQLite database",
		"notes.txt":      "it is not an SQLite database",
		"truncated.db":   "it is truncated",
		"corrupted.db":   "it is damaged",
		"otherprog.db":   "it is an SQLite database of another program, not an indexer catalog",
		"newer.db":       "its schema version " + strconv.Itoa(db.LatestVersion()+1) + " is newer than this indexer's",
		"does-not-exist": "it does not exist",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(src, name)
			code, out, errOut := backupCmdRun(t, nil, "--db", cat, "restore", p, "--yes")
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			want := "indexer: cannot restore from " + p + ": " + cause
			if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || out != "" {
				t.Errorf("stderr %q, want one line starting %q; stdout %q", errOut, want, out)
			}
			if backupCmdSum(t, cat) != sum {
				t.Error("the catalog's bytes changed")
			}
		})
	}
	if got := backupCmdRows(t, cat); !slices.Equal(got, rows) {
		t.Errorf("catalog rows changed: %d, want %d", len(got), len(rows))
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cat), "backups")); err == nil {
		t.Error("a refused restore created a safety backup")
	}
}

func sqliteExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	x, err := sql.Open(db.DriverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, s := range stmts {
		if _, err := x.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestoreCommand(t *testing.T) {
	cat, backup, rowsA := restoreCmdSetup(t)
	code, out, errOut := backupCmdRun(t, nil, "--db", cat, "--json", "restore", backup, "--yes")
	if code != ExitOK {
		t.Fatalf("restore: exit %d, stderr %q", code, errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("restore --json: %v: %q", err, out)
	}
	if res["restored_from"] != backup || res["files"] != 40.0 || res["hashes"] != 40.0 || res["schema_version"] != float64(db.LatestVersion()) {
		t.Errorf("restore --json = %s", out)
	}
	safety, _ := res["safety_backup"].(string)
	if filepath.Dir(safety) != filepath.Join(filepath.Dir(cat), "backups") {
		t.Errorf("safety_backup %q, want a file in backups/ beside the catalog", safety)
	}
	if got := backupCmdRows(t, cat); !slices.Equal(got, rowsA) {
		t.Errorf("after restore: %d rows, want A's %d", len(got), len(rowsA))
	}
	// The safety backup brings B back.
	code, out, errOut = backupCmdRun(t, nil, "--db", cat, "restore", safety, "--yes")
	if code != ExitOK || !strings.Contains(out, "restored "+cat+" from "+safety+": 50 files") || !strings.Contains(out, "saved at") {
		t.Errorf("restore of the safety backup: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRestoreCommandConfirmation(t *testing.T) {
	cat, backup, rowsA := restoreCmdSetup(t)
	sum := backupCmdSum(t, cat)

	// No terminal and no --yes: a usage error, nothing touched.
	code, _, errOut := backupCmdRun(t, strings.NewReader("yes\n"), "--db", cat, "restore", backup)
	if code != ExitUsage || !strings.Contains(errOut, "--yes") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("restore without --yes and no terminal: exit %d, stderr %q", code, errOut)
	}
	if backupCmdSum(t, cat) != sum {
		t.Error("the catalog changed")
	}

	// On a terminal it asks; anything but y/yes declines.
	orig := restoreAsks
	restoreAsks = func(io.Reader) bool { return true }
	defer func() { restoreAsks = orig }()
	code, _, errOut = backupCmdRun(t, strings.NewReader("n\n"), "--db", cat, "restore", backup)
	if code != ExitError || !strings.Contains(errOut, "[y/N]") || !strings.Contains(errOut, "canceled") {
		t.Errorf("restore declined: exit %d, stderr %q", code, errOut)
	}
	if backupCmdSum(t, cat) != sum {
		t.Error("a declined restore changed the catalog")
	}
	code, _, errOut = backupCmdRun(t, strings.NewReader("yes\n"), "--db", cat, "restore", backup)
	if code != ExitOK {
		t.Errorf("restore confirmed: exit %d, stderr %q", code, errOut)
	}
	if got := backupCmdRows(t, cat); !slices.Equal(got, rowsA) {
		t.Errorf("after a confirmed restore: %d rows, want A's %d", len(got), len(rowsA))
	}
}

func TestRestoreCommandRefusedWhileInUse(t *testing.T) {
	cat, backup, _ := restoreCmdSetup(t)
	sum := backupCmdSum(t, cat)
	scan, err := db.Open(context.Background(), cat, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	code, _, errOut := backupCmdRun(t, nil, "--db", cat, "restore", backup, "--yes")
	want := "indexer: catalog " + cat + " is in use by another indexer process (a scan?); try again when it finishes or pass --wait\n"
	if code != ExitError || errOut != want {
		t.Errorf("restore while in use: exit %d, stderr %q, want %q", code, errOut, want)
	}
	scan.Close()
	if backupCmdSum(t, cat) != sum {
		t.Error("a refused restore changed the catalog")
	}
}
