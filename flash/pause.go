package flash

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// PauseEnv names the test hook that stops a write at a named moment:
// PISTUDIO_FLASH_PAUSE=PHASE or PHASE@BYTES makes the writer print
// "pistudio: paused at PHASE BYTES" on standard error when it reaches
// PHASE (at or past BYTES of it) and then wait until it is killed. The
// kill tests use it to choose the moment of a kill -9 deterministically.
// Phases, in order: open, dropped (partitions deleted from the kernel's
// view), zero-head, zeroed, stream@OFFSET (a chunk ending at or past
// image offset OFFSET written), cleared
// (stale signatures cleared in skipped ranges), head-body (the first MiB
// but its first sector written), head (everything written), verify@BYTES
// (bytes read back and compared).
const PauseEnv = "PISTUDIO_FLASH_PAUSE"

// pausePhase and pauseOff are the parsed PauseEnv; paused is set once the
// writer stopped (it stops once).
var (
	pausePhase, pauseOff = parsePause(os.Getenv(PauseEnv))
	paused               atomic.Bool
)

func parsePause(v string) (string, int64) {
	phase, off, ok := strings.Cut(v, "@")
	if !ok {
		return phase, 0
	}
	n, err := strconv.ParseInt(off, 10, 64)
	if err != nil {
		return "", 0
	}
	return phase, n
}

// testPause stops the process at phase (when off has reached the
// requested offset) if PauseEnv asks for it.
func testPause(phase string, off int64) {
	if pausePhase == "" || phase != pausePhase || off < pauseOff || !paused.CompareAndSwap(false, true) {
		return
	}
	fmt.Fprintf(os.Stderr, "pistudio: paused at %s %d\n", phase, off)
	for {
		time.Sleep(time.Hour)
	}
}
