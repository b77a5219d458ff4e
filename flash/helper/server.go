package helper

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
)

// ServeOptions tune Serve.
type ServeOptions struct {
	// Root is the system root for disk scans and guards ("" = "/").
	Root string
	// UID is the user the helper acts for: images must be readable by it.
	// -1 skips the check (the caller is root itself). ServeStdio sets it
	// from PKEXEC_UID.
	UID int
	// AllowFiles lets flash requests name a regular file as the device
	// (tests only; the helper exists to write disks).
	AllowFiles bool

	// write replaces flash.Write (tests).
	write func(context.Context, source.Source, flash.Target, flash.Options) (*flash.Result, error)
}

// Serve answers requests read from in with events written to out until in
// ends or ctx is done; then it cancels the writes still running and waits
// for them.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts ServeOptions) error {
	if opts.write == nil {
		opts.write = flash.Write
	}
	s := &server{opts: opts, out: out, running: map[string]context.CancelFunc{}, busy: map[string]bool{}}
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var req Request
		if err := json.Unmarshal([]byte(line), &req); err != nil {
			s.send(Event{Type: EventError, Error: fmt.Sprintf("malformed request: %v", err), Kind: "request"})
			continue
		}
		s.handle(ctx, req)
	}
	cancelAll()
	s.wg.Wait()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading requests: %w", err)
	}
	return nil
}

// ServeStdio serves requests on the process's stdin and stdout, acting for
// the user pkexec names in PKEXEC_UID.
func ServeStdio(ctx context.Context) error {
	uid := -1
	if v := os.Getenv("PKEXEC_UID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("PKEXEC_UID %q: %w", v, err)
		}
		uid = n
	} else if os.Geteuid() != 0 {
		return fmt.Errorf("the helper must run as root (start it with pkexec)")
	}
	return Serve(ctx, os.Stdin, os.Stdout, ServeOptions{UID: uid})
}

type server struct {
	opts    ServeOptions
	mu      sync.Mutex
	out     io.Writer
	running map[string]context.CancelFunc
	busy    map[string]bool // devices being written
	wg      sync.WaitGroup
}

func (s *server) send(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out.Write(marshal(ev))
}

func (s *server) fail(id string, format string, args ...any) {
	s.send(ErrorEvent(id, fmt.Errorf("%w: %s", ErrRequest, fmt.Sprintf(format, args...))))
}

func (s *server) handle(ctx context.Context, req Request) {
	switch req.Op {
	case OpDisks:
		disks, err := disk.Scan(disk.ScanOptions{Root: s.opts.Root})
		if err != nil {
			s.send(ErrorEvent(req.ID, err))
			return
		}
		if disks == nil {
			disks = []disk.Disk{}
		}
		s.send(Event{ID: req.ID, Type: EventResult, Disks: disks})
	case OpCancel:
		s.mu.Lock()
		cancel := s.running[req.ID]
		s.mu.Unlock()
		if cancel == nil {
			s.fail(req.ID, "no running write with id %q", req.ID)
			return
		}
		cancel()
	case OpFlash:
		s.flash(ctx, req)
	default:
		s.fail(req.ID, "unknown op %q", req.Op)
	}
}

func (s *server) flash(ctx context.Context, req Request) {
	if req.ID == "" {
		s.fail(req.ID, "a flash request needs an id")
		return
	}
	if err := canRead(req.Image, s.opts.UID); err != nil {
		s.send(ErrorEvent(req.ID, err))
		return
	}
	if err := s.checkDevice(req); err != nil {
		s.send(ErrorEvent(req.ID, err))
		return
	}
	s.mu.Lock()
	if s.running[req.ID] != nil || s.busy[req.Device] {
		s.mu.Unlock()
		s.fail(req.ID, "request %q or device %s is already being written", req.ID, req.Device)
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	s.running[req.ID] = cancel
	s.busy[req.Device] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, req.ID)
			delete(s.busy, req.Device)
			s.mu.Unlock()
			cancel()
		}()
		src, err := source.OpenContext(wctx, req.Image)
		if err != nil {
			s.send(ErrorEvent(req.ID, err))
			return
		}
		defer src.Close()
		var id disk.Identity
		if req.Identity != nil {
			id = req.Identity.Disk()
		}
		opts := flash.Options{
			NoVerify:     req.Verify != nil && !*req.Verify,
			AllowUnmount: req.AllowUnmount,
			Root:         s.opts.Root,
			Progress: func(p flash.Progress) {
				s.send(Event{ID: req.ID, Type: EventProgress, Progress: &p})
			},
		}
		res, err := s.opts.write(wctx, src, flash.Target{Path: req.Device, Identity: id}, opts)
		if err != nil {
			s.send(ErrorEvent(req.ID, err))
			return
		}
		s.send(Event{ID: req.ID, Type: EventResult, Result: res})
	}()
}

// checkDevice accepts only block device nodes under /dev with an identity.
func (s *server) checkDevice(req Request) error {
	st, err := os.Stat(req.Device)
	if s.opts.AllowFiles && err == nil && st.Mode().IsRegular() {
		return nil
	}
	if !strings.HasPrefix(filepath.Clean(req.Device), "/dev/") {
		return fmt.Errorf("%w: device %q is not under /dev", ErrRequest, req.Device)
	}
	if err != nil {
		return fmt.Errorf("%w: device: %v", ErrRequest, err)
	}
	if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return fmt.Errorf("%w: %s is not a block device", ErrRequest, req.Device)
	}
	if req.Identity == nil {
		return fmt.Errorf("%w: no identity for %s: choose the disk from the disk list", ErrRequest, req.Device)
	}
	return nil
}

// canRead checks that user uid may read the regular file p, by its mode
// bits, owner and the user's groups (uid -1: no check).
func canRead(p string, uid int) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: image: %v", ErrRequest, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: image %s is not a regular file", ErrRequest, p)
	}
	if uid < 0 || uid == 0 {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := st.Mode().Perm()
	switch {
	case int(sys.Uid) == uid:
		if mode&0o400 != 0 {
			return nil
		}
	case inGroup(uid, sys.Gid):
		if mode&0o040 != 0 {
			return nil
		}
	case mode&0o004 != 0:
		return nil
	}
	return fmt.Errorf("%w: user %d may not read the image %s", ErrRequest, uid, p)
}

func inGroup(uid int, gid uint32) bool {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return false
	}
	gids, err := u.GroupIds()
	if err != nil {
		return u.Gid == strconv.Itoa(int(gid))
	}
	return slices.Contains(gids, strconv.Itoa(int(gid))) || u.Gid == strconv.Itoa(int(gid))
}
