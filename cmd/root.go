package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitPartial     = 3
	ExitCorrupt     = 4 // verify found corruption
	ExitInterrupted = 130
)

// exitError carries an exit code other than 1 up to Execute.
type exitError struct {
	code int
	err  error // nil when the command already said everything
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode returns err with exit code code; a nil err means "say nothing more".
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageError marks bad input from the user: exit 2.
func usageError(format string, a ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, a...))
}

// app is what every command shares: the global flags and the output streams.
type app struct {
	dbPath   string
	machine  string
	json     bool
	logLevel string
	cpuProf  string
	trace    string
	stdout   io.Writer
	stderr   io.Writer
	stdin    io.Reader
	log      *slog.Logger
}

// commands are the subcommand constructors; each command file registers its own.
var commands []func(*app) *cobra.Command

func register(f func(*app) *cobra.Command) { commands = append(commands, f) }

// NewRoot builds the command tree writing to stdout and stderr.
func NewRoot(stdout, stderr io.Writer) (*cobra.Command, *app) {
	a := &app{stdout: stdout, stderr: stderr, stdin: os.Stdin}
	root := &cobra.Command{
		Use:   "indexer",
		Short: "A catalog of your files: hashes, duplicates, changes, across disks and machines",
		Long: `indexer records every file's path, size, times and md5/sha1/sha256 in an
SQLite catalog, keeps it current with fast incremental rescans, and answers
questions about it: duplicates, "do I already have this file", what changed.`,
		Example: `  indexer scan ~/Pictures /mnt/backup
  indexer dupes --min-size 1M
  indexer lookup IMG_0042.jpg`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageError("--log-level %q is not one of debug, info, warn, error", a.logLevel)
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
			if a.machine == "" {
				return usageError("--machine must not be empty")
			}
			if a.cpuProf != "" {
				f, err := os.Create(a.cpuProf)
				if err != nil {
					return fmt.Errorf("create CPU profile: %w", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("start CPU profile: %w", err)
				}
			}
			if a.trace != "" {
				f, err := os.Create(a.trace)
				if err != nil {
					return fmt.Errorf("create trace: %w", err)
				}
				if err := trace.Start(f); err != nil {
					return fmt.Errorf("start trace: %w", err)
				}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%w (see '%s --help')", err, c.CommandPath()))
	})
	f := root.PersistentFlags()
	f.StringVar(&a.dbPath, "db", envOr("INDEXER_DB", defaultDBPath()), "catalog `FILE`, or postgres://user@host/dbname URL of a shared catalog (env INDEXER_DB)")
	f.StringVar(&a.machine, "machine", envOr("INDEXER_MACHINE", hostname()), "`NAME` of this machine, recorded by scan; a query given --machine lists only that machine's files (env INDEXER_MACHINE)")
	f.BoolVar(&a.json, "json", false, "print results as JSON")
	f.StringVar(&a.logLevel, "log-level", "warn", "log `LEVEL` on stderr: debug, info, warn, error")
	f.StringVar(&a.cpuProf, "cpuprofile", "", "write a CPU profile to `FILE` (for developers)")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&a.trace, "trace", "", "write an execution trace to `FILE` (for developers)")
	_ = f.MarkHidden("trace")
	for _, c := range commands {
		root.AddCommand(c(a))
	}
	// An unknown subcommand is an argument the root does not take; the root
	// must be runnable for Cobra to check its arguments at all.
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	// Cobra adds `completion bash|zsh|fish|powershell` when it executes; add it
	// now so that it is in the tree the reference pages are generated from, and
	// make it runnable, like the root, so that an unknown shell is a usage error.
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag() // likewise --version, for the reference pages
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	}
	usageArgs(root)
	return root, a
}

// Execute runs the command line and returns the process exit code.
func Execute() int {
	ctx, stop := interruptContext()
	defer stop()
	root, _ := NewRoot(os.Stdout, os.Stderr)
	defer pprof.StopCPUProfile() // a no-op unless --cpuprofile started one
	defer trace.Stop()           // likewise for --trace
	return run(ctx, root, os.Args[1:], os.Stderr)
}

// run executes root with args and maps the outcome to an exit code, printing
// the error as one line on stderr.
func run(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if errors.Is(err, context.Canceled) {
		code = ExitInterrupted
	}
	if err != nil {
		fmt.Fprintln(stderr, "indexer: "+sentence(err))
	}
	return code
}

// sentence makes err one line.
func sentence(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// interruptContext is canceled by the first SIGINT or SIGTERM; a second one
// exits at once with 130.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				fmt.Fprintln(os.Stderr, "indexer: interrupted, finishing up (press Ctrl-C again to quit at once)")
				cancel()
				continue
			}
			os.Exit(ExitInterrupted)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// dbOptions returns the catalog's pool options, db.DefaultOptions tuned by
// the environment (INDEXER_BUSY_TIMEOUT and its kin): the one place a
// command reads them. A malformed variable is a usage error.
func (a *app) dbOptions() (db.Options, error) {
	opts, err := db.OptionsFromEnv()
	if err != nil {
		return opts, usageError("%w", err)
	}
	return opts, nil
}

// open opens (creating if needed) the catalog named by --db.
func (a *app) open(ctx context.Context) (*service.Catalog, error) {
	opts, err := a.dbOptions()
	if err != nil {
		return nil, err
	}
	c, err := service.Open(ctx, a.dbPath, opts, a.log)
	if err != nil {
		return nil, explainOpen(a.dbPath, err)
	}
	return c, nil
}

// openExisting opens the catalog named by --db for a command that only reads
// it, refusing to create one. On a read-only file system it is opened
// read-only.
func (a *app) openExisting(ctx context.Context) (*service.Catalog, error) {
	opts, err := a.dbOptions()
	if err != nil {
		return nil, err
	}
	opts.MustExist = true
	opts.OnlyReads = true
	c, err := service.Open(ctx, a.dbPath, opts, a.log)
	if err != nil {
		return nil, explainOpen(a.dbPath, err)
	}
	return c, nil
}

func explainOpen(path string, err error) error {
	switch {
	case errors.Is(err, db.ErrNotExist):
		return fmt.Errorf("no catalog at %s; run 'indexer scan PATH' to create one, or pass --db", path)
	case errors.Is(err, db.ErrNotDatabase):
		return fmt.Errorf("%s is not an SQLite database; pass --db with the catalog's path", path)
	case errors.Is(err, db.ErrNotCatalog):
		return fmt.Errorf("%s is an SQLite database of another program, not an indexer catalog", path)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("catalog %s is on a read-only file system, and this command writes to it; remount it read-write or pass --db", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("catalog %s cannot be used by this user: %w; run indexer as the catalog's owner or pass --db", path, err)
	case db.IsBusy(err):
		return fmt.Errorf("catalog %s is locked by another program; try again when it is done: %w", path, err)
	case db.IsReadOnly(err):
		return fmt.Errorf("catalog %s is read-only for this user (the file, its directory or its file system); fix its permissions or pass --db: %w", path, err)
	case db.IsCantOpen(err):
		return fmt.Errorf("cannot open catalog %s or create its -wal and -shm files beside it; check that its directory is writable and not on a read-only file system, or pass --db: %w", path, err)
	case db.IsNoSpace(err):
		return fmt.Errorf("catalog %s could not be written because its disk is full; free some space and run again (what was committed before is kept): %w", path, err)
	case db.IsFull(err):
		return fmt.Errorf("catalog %s could not be read or written: an I/O error, such as a file size limit (ulimit -f) reached or a failing disk (what was committed before is kept): %w", path, err)
	}
	return err
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func defaultDBPath() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "indexer", "index.db")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "index.db"
	}
	return filepath.Join(home, ".local", "share", "indexer", "index.db")
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// usageArgs makes the argument checks of c and its subcommands report usage
// errors (exit 2), so that no caller has to recognise Cobra's wording.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ee *exitError
			if err == nil || errors.As(err, &ee) {
				return err
			}
			return withCode(ExitUsage, fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath()))
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
