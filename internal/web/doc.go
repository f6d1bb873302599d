// Package web serves one open catalog over HTTP: a JSON API whose answers
// are those of the CLI's --json, Server-Sent Events for running scans, and
// pages built from embedded templates and plain JavaScript. Each handler
// decodes its parameters, calls one service method and encodes the answer.
package web
