package cmd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/cache"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/web"
)

func init() { register(newServeCmd) }

func newServeCmd(a *app) *cobra.Command {
	var addr, token, restoreFrom, cacheMax string
	var noCache bool
	copts := cache.DefaultOptions()
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the catalog over HTTP: a JSON API and web pages",
		Long: `serve answers, for as long as it runs, a JSON API and web pages over the
catalog: overview, duplicates, search, a tree of each machine, one content's
places, and scans started and watched live. Everything is in the binary; no
network access is needed.

It binds to 127.0.0.1:8080 by default. Any address that is not loopback needs
a token (--token or INDEXER_TOKEN), required on every request as
"Authorization: Bearer TOKEN" or through the login page's cookie. Requests that
change something are POST or DELETE and refused from other sites. Restores
read backups only from the catalog's backups directory, or --allow-restore-from.

The server holds the catalog only while it answers or scans, so 'indexer
restore' in another process is never kept out for long, and the server's next
answer comes from the restored catalog.

The read endpoints' answers are kept in a cache in memory: fresh for
--cache-ttl (give or take 10%), then served stale for --cache-swr while one
background load refreshes them; empty answers live --cache-empty-ttl. Every
write this process or another indexer process commits drops the answers it
touches before the next request is answered; --no-cache turns the cache off.
GET /metrics reports it in the Prometheus text format. Ctrl-C or SIGTERM stops it gracefully:
a running scan is stopped as Ctrl-C stops it, and serve exits 0.`,
		Example: `  indexer serve
  indexer serve --addr 127.0.0.1:9000
  INDEXER_TOKEN=s3cret indexer serve --addr 0.0.0.0:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if token == "" {
				token = os.Getenv("INDEXER_TOKEN")
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return usageError("--addr %q is not HOST:PORT: %w", addr, err)
			}
			if !loopback(host) && token == "" {
				return usageError("--addr %s is not a loopback address, so serve needs a token: pass --token or set INDEXER_TOKEN", addr)
			}
			if restoreFrom != "" {
				if restoreFrom, err = filepath.Abs(restoreFrom); err != nil {
					return usageError("--allow-restore-from %s: %w", restoreFrom, err)
				}
				if fi, err := os.Stat(restoreFrom); err != nil || !fi.IsDir() {
					return usageError("--allow-restore-from %s is not a directory", restoreFrom)
				}
			}
			if noCache {
				copts.Disabled = true
			}
			if copts.MaxBytes, err = bytesize.Parse(cacheMax); err != nil || copts.MaxBytes <= 0 {
				return usageError("--cache-max-bytes %q is not a positive size such as 64MiB", cacheMax)
			}
			switch {
			case copts.TTL <= 0:
				return usageError("--cache-ttl %v is not positive", copts.TTL)
			case copts.SWR < 0:
				return usageError("--cache-swr %v is negative", copts.SWR)
			case copts.EmptyTTL < 0:
				return usageError("--cache-empty-ttl %v is negative", copts.EmptyTTL)
			}
			opts, err := a.dbOptions()
			if err != nil {
				return err
			}
			// A server lives long: its sorts must not leave modernc's
			// libc a record per worker thread each (see the function).
			singleThreadedSorts()
			serveOpts := opts
			serveOpts.UnlockIdle = true
			cat, err := service.Open(ctx, a.dbPath, serveOpts, a.log)
			if err != nil {
				return explainOpen(a.dbPath, err)
			}
			defer cat.Close()
			srv, err := web.New(web.Config{Catalog: cat, DBOptions: opts, Machine: a.machine, Token: token,
				AllowRestoreFrom: restoreFrom, Log: a.log, Cache: copts})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			fmt.Fprintf(a.stderr, "indexer: serving %s at http://%s/\n", cat.DB().Path(), ln.Addr())
			if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, ctx.Err()) {
				return err
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, `HOST:PORT`")
	f.StringVar(&token, "token", "", "`TOKEN` every request must carry (env INDEXER_TOKEN); required off loopback")
	f.StringVar(&restoreFrom, "allow-restore-from", "", "also restore backups from this `DIR`")
	f.DurationVar(&copts.TTL, "cache-ttl", copts.TTL, "how long a cached answer is fresh, give or take 10%")
	f.DurationVar(&copts.SWR, "cache-swr", copts.SWR, "how long after its TTL a cached answer is served stale while it is refreshed (0: never)")
	f.DurationVar(&copts.EmptyTTL, "cache-empty-ttl", copts.EmptyTTL, "how long an empty answer (nothing matched) is cached")
	f.StringVar(&cacheMax, "cache-max-bytes", "64MiB", "memory bound of the cache, a `SIZE` such as 64MiB; least recently used answers go first")
	f.BoolVar(&noCache, "no-cache", false, "cache no answer: every request reads the catalog")
	return c
}

// loopback tells whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// singleThreadedSorts is db.SingleThreadedSorts, which serve calls before it
// opens the catalog; a variable for tests, which must not switch their own
// process's sorts.
var singleThreadedSorts = db.SingleThreadedSorts
