package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Event stream tuning.
const (
	// ringSize is how many events a scan keeps for its streams. A client
	// that falls further behind skips to the oldest kept; the done event is
	// always the last one, so it is never lost.
	ringSize = 1024
	// pingEvery keeps proxies and the browser from closing a quiet stream.
	pingEvery = 15 * time.Second
	// eventWriteTimeout is how long one event may take to write: a client
	// that stops reading is dropped, never waited for.
	eventWriteTimeout = 10 * time.Second
)

// event is one Server-Sent Event.
type event struct {
	id   int64
	name string
	data []byte
}

// eventLog is a scan's events in a ring buffer. The scan appends in O(1)
// under a short lock and never waits for a reader; readers copy what they
// have not sent and write it without the lock.
type eventLog struct {
	mu     sync.Mutex
	ring   [ringSize]event
	next   int64         // id of the next event; ids start at 1
	closed bool          // the done event is in
	wake   chan struct{} // closed and replaced on every append
}

func newEventLog() *eventLog { return &eventLog{next: 1, wake: make(chan struct{})} }

// add appends an event named name with v as its JSON data; after the done
// event nothing more is added.
func (l *eventLog) add(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.ring[l.next%ringSize] = event{id: l.next, name: name, data: data}
	l.next++
	if name == "done" {
		l.closed = true
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

// since returns the kept events after id, whether the log is complete, and
// a channel closed at the next append.
func (l *eventLog) since(id int64) ([]event, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := max(1, l.next-ringSize)
	from := max(id+1, first)
	out := make([]event, 0, max(0, l.next-from))
	for i := from; i < l.next; i++ {
		out = append(out, l.ring[i%ringSize])
	}
	return out, l.closed, l.wake
}

// lastAndDone returns the id of the newest event (0 when there is none) and
// whether it is the done event.
func (l *eventLog) lastAndDone() (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1, l.closed
}

// stream writes the log to w as text/event-stream: first a snapshot (what
// snapshot returns, as of the newest event), then every event after
// Last-Event-ID (or after the snapshot), until the done event or until the
// client goes. Each write has its own deadline; the stream as a whole has
// none.
func (l *eventLog) stream(w http.ResponseWriter, r *http.Request, snapshot func() any) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // no deadline for the stream as a whole
	after, done := l.lastAndDone()
	if done {
		after-- // a finished scan's stream still ends with its done event
	}
	resumed := false
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id >= 0 && id <= after {
			after, resumed = id, true
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(f func() error) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil {
			return false
		}
		if err := f(); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !resumed {
		data, _ := json.Marshal(snapshot())
		if !write(func() error {
			_, err := fmt.Fprintf(w, "id: %d\nevent: snapshot\ndata: %s\n\n", after, data)
			return err
		}) {
			return
		}
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		evs, closed, wake := l.since(after)
		for _, e := range evs {
			if !write(func() error {
				_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.id, e.name, e.data)
				return err
			}) {
				return
			}
			after = e.id
		}
		if closed {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-ping.C:
			if !write(func() error { _, err := fmt.Fprint(w, ": ping\n\n"); return err }) {
				return
			}
		}
	}
}
