package metrics

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// GoCollector gives a few of the Go runtime's figures under the names
// client_golang used for them: goroutines, threads, the heap, the last GC.
func GoCollector() Collector {
	return CollectorFunc(func() ([]Family, error) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		threads, _ := runtime.ThreadCreateProfile(nil)
		gauge := func(name, help string, v float64) Family {
			return Family{Name: name, Help: help, Kind: KindGauge, Series: []Series{{Value: v}}}
		}
		return []Family{
			gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
			gauge("go_threads", "Number of OS threads created.", float64(threads)),
			{Name: "go_info", Help: "Information about the Go environment.", Kind: KindGauge,
				Series: []Series{{Labels: []Label{{"version", runtime.Version()}}, Value: 1}}},
			gauge("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use.", float64(ms.HeapAlloc)),
			gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse)),
			gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys)),
			gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
			{Name: "go_gc_cycles_total", Help: "Number of completed GC cycles.", Kind: KindCounter, Series: []Series{{Value: float64(ms.NumGC)}}},
		}, nil
	})
}

// ProcessCollector gives the process's CPU time, memory and file
// descriptors, read from the kernel (getrusage, getrlimit and Linux's
// /proc) at each scrape, under the names client_golang used for them.
func ProcessCollector() Collector {
	return CollectorFunc(func() ([]Family, error) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return nil, fmt.Errorf("process CPU time: %w", err)
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return nil, fmt.Errorf("process file descriptor limit: %w", err)
		}
		statm, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return nil, fmt.Errorf("process memory: %w", err)
		}
		f := strings.Fields(string(statm))
		if len(f) < 2 {
			return nil, fmt.Errorf("process memory: /proc/self/statm has %d fields, want at least 2", len(f))
		}
		page := float64(os.Getpagesize())
		vsize, err1 := strconv.ParseFloat(f[0], 64)
		rss, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("process memory: /proc/self/statm %q is not numbers of pages", statm)
		}
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return nil, fmt.Errorf("process open file descriptors: %w", err)
		}
		one := func(name, help string, k Kind, v float64) Family {
			return Family{Name: name, Help: help, Kind: k, Series: []Series{{Value: v}}}
		}
		return []Family{
			one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", KindCounter, cpu),
			one("process_resident_memory_bytes", "Resident memory size in bytes.", KindGauge, rss*page),
			one("process_virtual_memory_bytes", "Virtual memory size in bytes.", KindGauge, vsize*page),
			one("process_open_fds", "Number of open file descriptors.", KindGauge, float64(len(fds))),
			one("process_max_fds", "Maximum number of open file descriptors.", KindGauge, float64(lim.Cur)),
		}, nil
	})
}
