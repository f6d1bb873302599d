// Package cmd is the command line: one thin Cobra command per file, each
// parsing flags, calling one use case in internal/service and printing its
// result, as text or --json, to stdout. Logs and progress go to stderr.
package cmd
