package service

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/indexer/indexer/internal/repo"
)

// runningHere holds the scans this process runs, by catalog and scan id.
var runningHere sync.Map

type scanKey struct {
	catalog string
	id      int64
}

func (s *scanRun) here() scanKey { return scanKey{s.c.db.Path(), s.rep.ID} }

// scanAlive reports whether the scan id of this catalog, recorded as running
// by a process of this host, may still run. Its pid may have been reused:
// by this very process (in a container every run may be pid 1), which knows
// the scans it runs, or by a process that started after the scan began.
func (s *scanRun) scanAlive(id int64, owner repo.Owner) bool {
	if owner.PID == os.Getpid() {
		_, ok := runningHere.Load(scanKey{s.c.db.Path(), id})
		return ok
	}
	if started, ok := processStart(owner.PID); ok && started.After(owner.Started.Add(time.Second)) {
		return false
	}
	return processAlive(owner.PID)
}

// processStart returns when process pid started, where /proc tells
// (Linux): field 22 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on
// Linux) after boot, whose time is btime in /proc/stat.
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64) // field 22 overall
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const userHZ = 100
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

// processAlive reports whether a process with pid exists on this host. A
// process of another user answers EPERM: it exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
