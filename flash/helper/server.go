package helper

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/source"
)

// ServeOptions tune Serve.
type ServeOptions struct {
	// Root is the system root for disk scans and guards ("" = "/").
	Root string
	// UID is the user the helper acts for: images are opened with its
	// file-system credentials (see openAsUser). -1 or 0 opens them as the
	// helper (the caller is root itself). ServeStdio sets it from
	// PKEXEC_UID.
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
	s := &server{opts: opts, out: out, running: map[string]context.CancelFunc{}, busy: map[string]bool{}, writing: map[string]disk.Disk{}}
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
	writing map[string]disk.Disk
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
		for i := range disks {
			s.protectLoop(&disks[i], req.AllowLoop)
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
	case OpSettings:
		s.settings(ctx, req)
	default:
		s.fail(req.ID, "unknown op %q", req.Op)
	}
}

func (s *server) flash(ctx context.Context, req Request) {
	if req.ID == "" {
		s.fail(req.ID, "a flash request needs an id")
		return
	}
	files, err := s.openImage(req.Image)
	if err != nil {
		s.send(ErrorEvent(req.ID, err))
		return
	}
	if req.Measure != nil {
		// Spares a second decoding pass; a measure naming another file
		// or another version of it is ignored.
		source.Remember(files.Image, *req.Measure)
	}
	dev, isFile, err := s.checkDevice(req)
	var d disk.Disk
	if err == nil && !isFile {
		d, err = s.checkDisk(dev, req)
	}
	if err != nil {
		files.Close()
		s.send(ErrorEvent(req.ID, err))
		return
	}
	s.mu.Lock()
	if s.running[req.ID] != nil || s.busy[dev] {
		s.mu.Unlock()
		files.Close()
		s.fail(req.ID, "request %q or device %s is already being written", req.ID, dev)
		return
	}
	if err := s.distinctFromRunning(d); err != nil {
		s.mu.Unlock()
		files.Close()
		s.send(ErrorEvent(req.ID, err))
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	s.running[req.ID] = cancel
	s.busy[dev] = true
	if !isFile {
		s.writing[dev] = d
	}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, req.ID)
			delete(s.busy, dev)
			delete(s.writing, dev)
			s.mu.Unlock()
			cancel()
		}()
		// The files opened for the user are all the source reads.
		src, err := source.OpenFiles(wctx, files)
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
			SHA256:       req.SHA256,
			AllowUnmount: req.AllowUnmount,
			Root:         s.opts.Root,
			Progress: func(p flash.Progress) {
				s.send(Event{ID: req.ID, Type: EventProgress, Progress: &p})
			},
		}
		target := flash.Target{Path: dev, Identity: id, RequireDevice: !isFile}
		res, err := s.opts.write(wctx, src, target, opts)
		if err != nil {
			s.send(ErrorEvent(req.ID, err))
			return
		}
		s.send(Event{ID: req.ID, Type: EventResult, Result: res})
	}()
}

// settings writes first-boot files into a device's boot partition: the
// payload must hold only a reader's files, the device passes the same
// checks as a flash and the disk guard, and it is opened exclusively.
func (s *server) settings(ctx context.Context, req Request) {
	if req.Settings == nil {
		s.fail(req.ID, "a settings request needs settings")
		return
	}
	if err := req.Settings.Check(); err != nil {
		s.send(ErrorEvent(req.ID, fmt.Errorf("%w: %w", ErrRequest, err)))
		return
	}
	dev, isFile, err := s.checkDevice(req)
	if err == nil && !isFile {
		_, err = s.checkDisk(dev, req)
	}
	if err != nil {
		s.send(ErrorEvent(req.ID, err))
		return
	}
	s.mu.Lock()
	if s.busy[dev] {
		s.mu.Unlock()
		s.fail(req.ID, "device %s is being written", dev)
		return
	}
	s.busy[dev] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.busy, dev)
		s.mu.Unlock()
	}()
	res, err := applyTo(ctx, dev, isFile, req.Identity, req.Settings)
	if err != nil {
		s.send(ErrorEvent(req.ID, err))
		return
	}
	s.send(Event{ID: req.ID, Type: EventResult, Applied: res})
}

// applyTo guards and opens dev (a file only in tests) and applies p.
func applyTo(ctx context.Context, dev string, isFile bool, id *Identity, p *firstboot.Payload) (*firstboot.Applied, error) {
	if isFile {
		return firstboot.ApplyPath(ctx, dev, p)
	}
	if _, err := disk.Guard("/", dev, id.Disk(), nil); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dev, os.O_RDWR|os.O_EXCL, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dev, err)
	}
	res, err := firstboot.Apply(ctx, f, p)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing %s: %w", dev, cerr)
	}
	return res, err
}

// creds are the file-system credentials of the user the helper acts for.
type creds struct {
	uid, gid int
	groups   []int
}

// credsFor looks user uid up; an unknown user gets the overflow group
// ("nogroup", 65534) and no supplementary groups.
func credsFor(uid int) creds {
	c := creds{uid: uid, gid: 65534}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return c
	}
	if g, err := strconv.Atoi(u.Gid); err == nil {
		c.gid = g
	}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil {
				c.groups = append(c.groups, g)
			}
		}
	}
	if !slices.Contains(c.groups, c.gid) {
		c.groups = append(c.groups, c.gid)
	}
	return c
}

// openImage opens the image (and its block map, and for a .bmap request
// the image beside it) with the calling user's permissions; the source is
// then built from these open files, so nothing is looked up by path again.
// For UID 0 or -1 the files are opened as the helper.
func (s *server) openImage(p string) (*source.Files, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: no image given", ErrRequest)
	}
	var open func(string) (*os.File, error)
	if s.opts.UID > 0 {
		c := credsFor(s.opts.UID)
		open = func(name string) (*os.File, error) { return openAsUser(name, c) }
	}
	files, err := source.Locate(p, open)
	if err != nil {
		return nil, fmt.Errorf("%w: image: %w", ErrRequest, err)
	}
	if s.opts.UID > 0 {
		// xz and zstd read the user's bytes: they run as the user too.
		files.Decoder = runAsUser(credsFor(s.opts.UID))
	}
	return files, nil
}
