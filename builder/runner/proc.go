package runner

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// markerVar is set in the tool's environment to a value unique to the run,
// so that processes which left its process group (setsid) can still be
// found through /proc/<pid>/environ and stopped with it.
const markerVar = "PISTUDIO_RUN_ID"

// procInfo reads state and process group of pid from /proc/<pid>/stat.
func procInfo(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pg, err := strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pg, true
}

// Alive reports whether pid is a live (not zombie) process.
func Alive(pid int) bool {
	st, _, ok := procInfo(pid)
	return ok && st != 'Z' && st != 'X'
}

// runProcs lists the live processes of a run: members of process group
// pgid and processes carrying the run's marker in their environment.
func runProcs(pgid int, marker string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	needle := []byte(markerVar + "=" + marker + "\x00")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, pg, ok := procInfo(pid)
		if !ok || st == 'Z' || st == 'X' {
			continue
		}
		if pg == pgid {
			out = append(out, pid)
			continue
		}
		if marker == "" {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && bytes.Contains(env, needle) {
			out = append(out, pid)
		}
	}
	return out
}

// signalRun sends sig to the process group and to every marked process.
func signalRun(pgid int, marker string, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
	for _, pid := range runProcs(pgid, marker) {
		_ = syscall.Kill(pid, sig)
	}
}

// reap stops whatever is left of a run: SIGTERM, then SIGKILL at
// deadline, then waits (bounded) until nothing is left. It reports
// whether the run is gone.
func reap(pgid int, marker string, deadline time.Time) bool {
	if len(runProcs(pgid, marker)) == 0 {
		return true
	}
	signalRun(pgid, marker, syscall.SIGTERM)
	for time.Now().Before(deadline) {
		if len(runProcs(pgid, marker)) == 0 {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		if len(runProcs(pgid, marker)) == 0 {
			return true
		}
		signalRun(pgid, marker, syscall.SIGKILL)
		time.Sleep(20 * time.Millisecond)
	}
	return len(runProcs(pgid, marker)) == 0
}
