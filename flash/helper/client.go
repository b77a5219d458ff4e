package helper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/pkexec"
)

// Flasher lists disks and writes images; Local does it in-process, Client
// through a helper process. The app uses whichever New returns.
type Flasher interface {
	// Disks lists the block devices and their classification.
	Disks(ctx context.Context) ([]disk.Disk, error)
	// Flash writes the image file to target. Only opts.NoVerify,
	// opts.SHA256, opts.AllowUnmount and opts.Progress are honoured by a
	// Client.
	Flash(ctx context.Context, image string, target flash.Target, opts flash.Options) (*flash.Result, error)
	// Close releases the flasher (and stops a helper process).
	Close() error
}

// InProcess reports whether this process writes disks itself (it runs
// as root) rather than through the privileged helper. It is the one place
// that decides; New and every caller that must know follow it.
func InProcess() bool { return os.Geteuid() == 0 }

// New returns a Local flasher when InProcess, else a Client talking to
// `pkexec <this program> helper`.
func New(ctx context.Context) (Flasher, error) {
	if InProcess() {
		return Local{}, nil
	}
	return Start(ctx)
}

// Local writes in the calling process.
type Local struct {
	// Root is the system root for disk scans ("" = "/").
	Root string
}

// Disks implements Flasher.
func (l Local) Disks(ctx context.Context) ([]disk.Disk, error) {
	return disk.Scan(disk.ScanOptions{Root: l.Root})
}

// Flash implements Flasher.
func (l Local) Flash(ctx context.Context, image string, target flash.Target, opts flash.Options) (*flash.Result, error) {
	src, err := source.OpenContext(ctx, image)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if opts.Root == "" {
		opts.Root = l.Root
	}
	return flash.Write(ctx, src, target, opts)
}

// Close implements Flasher.
func (Local) Close() error { return nil }

// ErrHelperExited means the helper process went away mid-request.
var ErrHelperExited = errors.New("the privileged helper exited")

// Client talks to a helper over a pair of streams.
type Client struct {
	// AllowLoop lets the helper list and write loop devices whose backing
	// file belongs to another user (the user asked: --allow-loop).
	AllowLoop bool

	w    io.Writer
	wmu  sync.Mutex
	mu   sync.Mutex
	next int
	wait map[string]chan Event
	err  error // set when the event stream ended
	done chan struct{}
	cmd  *exec.Cmd
	in   io.Closer

	self     string       // this program, for the sudo command line
	stderr   *pkexec.Tail // the end of the helper's stderr
	exitOnce sync.Once
	exitErr  error
}

// NewClient returns a client reading events from r and writing requests
// to w (for example the pipes of a helper process, or a test pipe).
func NewClient(r io.Reader, w io.Writer) *Client {
	c := &Client{w: w, wait: map[string]chan Event{}, done: make(chan struct{})}
	go c.readLoop(r)
	return c
}

// Start launches `pkexec <this program> helper` and returns a client for
// it. The user is asked for authorization by polkit (action
// io.github.pistudio.PiImageStudio.helper).
func Start(ctx context.Context) (*Client, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding pistudio: %w", err)
	}
	pk, err := exec.LookPath("pkexec")
	if err != nil {
		return nil, fmt.Errorf("writing disks needs root: pkexec not found (install polkit, or run as root): %w", err)
	}
	c, err := StartCommand(ctx, exec.Command(pk, self, "helper"))
	if c != nil {
		c.self = self
	}
	return c, err
}

// StartCommand starts cmd as the helper and returns a client for it.
func StartCommand(ctx context.Context, cmd *exec.Cmd) (*Client, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	tail := &pkexec.Tail{Max: 8 << 10}
	cmd.Stderr = io.MultiWriter(os.Stderr, tail)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the helper: %w", err)
	}
	c := &Client{w: in, wait: map[string]chan Event{}, done: make(chan struct{}), cmd: cmd, in: in, stderr: tail}
	go c.readLoop(out)
	return c, nil
}

func (c *Client) readLoop(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		c.mu.Lock()
		ch := c.wait[ev.ID]
		c.mu.Unlock()
		if ch != nil {
			ch <- ev
		}
	}
	err := sc.Err()
	if err == nil {
		err = ErrHelperExited
	} else {
		err = fmt.Errorf("%w: %w", ErrHelperExited, err)
	}
	if c.cmd != nil {
		if aerr := authError(c.waitExit(), c.stderr.String()); aerr != nil {
			err = aerr
		}
	}
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func (c *Client) send(req Request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(marshal(req)); err != nil {
		return fmt.Errorf("%w: %w", ErrHelperExited, err)
	}
	return nil
}

// call sends req and hands every event about it to on until on returns
// true. A cancelled ctx sends a cancel request when cancel is set.
func (c *Client) call(ctx context.Context, req Request, cancel bool, on func(Event) bool) error {
	c.mu.Lock()
	c.next++
	req.ID = strconv.Itoa(c.next)
	ch := make(chan Event, 16)
	c.wait[req.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.wait, req.ID)
		c.mu.Unlock()
		// Drain so the reader never blocks on a forgotten request.
		for {
			select {
			case <-ch:
			default:
				return
			}
		}
	}()
	if err := c.send(req); err != nil {
		return c.exitReason(ctx, err)
	}
	cancelled := false
	ctxDone := ctx.Done()
	for {
		select {
		case ev := <-ch:
			if on(ev) {
				return nil
			}
		case <-ctxDone:
			ctxDone = nil
			if !cancel {
				return ctx.Err()
			}
			if !cancelled {
				cancelled = true
				if err := c.send(Request{ID: req.ID, Op: OpCancel}); err != nil {
					return err
				}
			}
		case <-c.done:
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			// Deliver events that arrived before the stream ended.
			for {
				select {
				case ev := <-ch:
					if on(ev) {
						return nil
					}
				default:
					return err
				}
			}
		}
	}
}

// Disks implements Flasher.
func (c *Client) Disks(ctx context.Context) ([]disk.Disk, error) {
	var disks []disk.Disk
	var rerr error
	err := c.call(ctx, Request{Op: OpDisks, AllowLoop: c.AllowLoop}, false, func(ev Event) bool {
		switch ev.Type {
		case EventResult:
			disks = ev.Disks
			return true
		case EventError:
			rerr = ev.asError()
			return true
		}
		return false
	})
	if err != nil {
		return nil, c.withSudo(err, "disks")
	}
	return disks, rerr
}

// Flash implements Flasher: the helper opens the image and writes the
// device; progress events reach opts.Progress; cancelling ctx cancels the
// write in the helper.
func (c *Client) Flash(ctx context.Context, image string, target flash.Target, opts flash.Options) (*flash.Result, error) {
	verify := !opts.NoVerify
	req := Request{Op: OpFlash, Image: image, Device: target.Path, Verify: &verify, SHA256: opts.SHA256,
		AllowUnmount: opts.AllowUnmount, AllowLoop: c.AllowLoop}
	if target.Identity != (disk.Identity{}) {
		req.Identity = WireIdentity(target.Identity)
	}
	if m, ok := source.Measured(image); ok {
		req.Measure = &m
	}
	var res *flash.Result
	var rerr error
	err := c.call(ctx, req, true, func(ev Event) bool {
		switch ev.Type {
		case EventProgress:
			if opts.Progress != nil && ev.Progress != nil {
				opts.Progress(*ev.Progress)
			}
		case EventResult:
			res = ev.Result
			return true
		case EventError:
			rerr = ev.asError()
			return true
		}
		return false
	})
	if err != nil {
		return nil, c.withSudo(err, "flash", image, target.Path)
	}
	if rerr != nil {
		return nil, rerr
	}
	if res == nil {
		return nil, errors.New("the helper sent an empty result")
	}
	return res, nil
}

// SettingsWriter writes first-boot settings into a written target's boot
// partition; Local and Client implement it.
type SettingsWriter interface {
	// ApplySettings guards and opens target (exclusively) and applies p.
	ApplySettings(ctx context.Context, target flash.Target, p *firstboot.Payload) (*firstboot.Applied, error)
}

// ApplySettings implements SettingsWriter in-process: a device is guarded
// again and opened exclusively; a file is opened as is.
func (l Local) ApplySettings(ctx context.Context, target flash.Target, p *firstboot.Payload) (*firstboot.Applied, error) {
	st, err := os.Stat(target.Path)
	if err != nil {
		return nil, err
	}
	isFile := st.Mode().IsRegular()
	return applyTo(ctx, target.Path, isFile, WireIdentity(target.Identity), p)
}

// ApplySettings implements SettingsWriter through the helper.
func (c *Client) ApplySettings(ctx context.Context, target flash.Target, p *firstboot.Payload) (*firstboot.Applied, error) {
	req := Request{Op: OpSettings, Device: target.Path, Settings: p}
	if target.Identity != (disk.Identity{}) {
		req.Identity = WireIdentity(target.Identity)
	}
	var res *firstboot.Applied
	var rerr error
	err := c.call(ctx, req, false, func(ev Event) bool {
		switch ev.Type {
		case EventResult:
			res = ev.Applied
			return true
		case EventError:
			rerr = ev.asError()
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	if res == nil {
		return nil, errors.New("the helper sent an empty result")
	}
	return res, nil
}

// Close ends the helper: it closes its stdin (cancelling running writes)
// and waits for it to exit.
func (c *Client) Close() error {
	if c.in != nil {
		c.in.Close()
	}
	if c.cmd != nil {
		return c.waitExit()
	}
	return nil
}

// exitReason returns, for a failed write to a helper process that has
// gone away, why it went: an authorization error from pkexec when it was
// one, else err.
func (c *Client) exitReason(ctx context.Context, err error) error {
	if c.cmd == nil {
		return err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return err
	}
	c.mu.Lock()
	exitErr := c.err
	c.mu.Unlock()
	if errors.Is(exitErr, ErrNoAgent) || errors.Is(exitErr, ErrNotAuthorized) {
		return exitErr
	}
	return err
}

// waitExit waits for the helper process once; later calls return the
// same result.
func (c *Client) waitExit() error {
	c.exitOnce.Do(func() { c.exitErr = c.cmd.Wait() })
	return c.exitErr
}
