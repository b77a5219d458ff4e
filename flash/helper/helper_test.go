package helper

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source"
)

// pair runs Serve on one end of two pipes and returns a Client on the
// other; cleanup closes the client's side and waits for Serve.
func pair(t *testing.T, opts ServeOptions) *Client {
	t.Helper()
	reqR, reqW := io.Pipe()
	evR, evW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(context.Background(), reqR, evW, opts)
		evW.Close()
	}()
	c := NewClient(evR, reqW)
	t.Cleanup(func() {
		reqW.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after stdin closed")
		}
	})
	return c
}

func image(t *testing.T, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "in.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func TestFlashThroughHelper(t *testing.T) {
	img, data := image(t, 3<<20+512)
	c := pair(t, ServeOptions{UID: -1, AllowFiles: true})
	x := xxh3.Hash128(data).Bytes()
	sum := sha256.Sum256(data)
	for _, withSHA := range []bool{false, true} {
		t.Run(fmt.Sprintf("sha256=%v", withSHA), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			if err := os.WriteFile(out, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			var updates atomic.Int32
			res, err := c.Flash(context.Background(), img, flash.Target{Path: out}, flash.Options{
				SHA256: withSHA,
				Progress: func(p flash.Progress) {
					updates.Add(1)
					if p.Total != int64(len(data)) {
						t.Errorf("progress total %d", p.Total)
					}
				},
			})
			if err != nil {
				t.Fatalf("Flash: %v", err)
			}
			wantSHA := ""
			if withSHA {
				wantSHA = hex.EncodeToString(sum[:])
			}
			if !res.Verified || res.SHA256 != wantSHA || res.XXH3 != hex.EncodeToString(x[:]) || res.Size != int64(len(data)) {
				t.Errorf("result %+v, want xxh3 %x, sha256 %q", res, x, wantSHA)
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
				t.Error("output differs")
			}
			if updates.Load() < 2 {
				t.Errorf("%d progress events", updates.Load())
			}
		})
	}
}

// TestSHA256FlagReachesWriter checks that the client's Options.SHA256
// crosses the protocol to the writer's options.
func TestSHA256FlagReachesWriter(t *testing.T) {
	img, _ := image(t, 4096)
	out := filepath.Join(t.TempDir(), "out.img")
	os.WriteFile(out, nil, 0o644)
	var got atomic.Int32
	c := pair(t, ServeOptions{UID: -1, AllowFiles: true,
		write: func(_ context.Context, _ source.Source, _ flash.Target, o flash.Options) (*flash.Result, error) {
			if o.SHA256 {
				got.Store(1)
				return &flash.Result{XXH3: "x", SHA256: "s"}, nil
			}
			got.Store(2)
			return &flash.Result{XXH3: "x"}, nil
		}})
	for _, tc := range []struct {
		sha  bool
		want int32
		res  flash.Result
	}{{false, 2, flash.Result{XXH3: "x"}}, {true, 1, flash.Result{XXH3: "x", SHA256: "s"}}} {
		res, err := c.Flash(context.Background(), img, flash.Target{Path: out}, flash.Options{SHA256: tc.sha})
		if err != nil {
			t.Fatal(err)
		}
		if got.Load() != tc.want || res.XXH3 != tc.res.XXH3 || res.SHA256 != tc.res.SHA256 {
			t.Errorf("SHA256=%v: writer saw %d, result %+v", tc.sha, got.Load(), res)
		}
	}
}

func TestHelperErrorsKeepTheirType(t *testing.T) {
	img, _ := image(t, 4096)
	out := filepath.Join(t.TempDir(), "out.img")
	os.WriteFile(out, nil, 0o644)
	for _, tc := range []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"verify", &flash.VerifyError{Offset: 12345, Path: "/dev/sdx"}, func(err error) bool {
			var ve *flash.VerifyError
			return errors.As(err, &ve) && ve.Offset == 12345 && ve.Path == "/dev/sdx" && strings.Contains(err.Error(), "/dev/sdx")
		}},
		{"too small", &flash.TooSmallError{Path: "/dev/x", ImageSize: 10, DeviceSize: 5}, func(err error) bool {
			var te *flash.TooSmallError
			return errors.As(err, &te) && te.ImageSize == 10 && te.DeviceSize == 5
		}},
		{"mounted", &flash.MountedError{Device: "/dev/x1", MountPoint: "/media/u/X"}, func(err error) bool {
			var me *flash.MountedError
			return errors.Is(err, flash.ErrMounted) && errors.As(err, &me) && me.MountPoint == "/media/u/X"
		}},
		{"protected", &disk.ProtectedError{Path: "/dev/vda", Reason: "holds /"}, func(err error) bool {
			return errors.Is(err, disk.ErrProtected) && strings.Contains(err.Error(), "holds /")
		}},
		{"changed", errors.Join(errors.New("x"), disk.ErrChanged), func(err error) bool { return errors.Is(err, disk.ErrChanged) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pair(t, ServeOptions{UID: -1, AllowFiles: true,
				write: func(context.Context, source.Source, flash.Target, flash.Options) (*flash.Result, error) {
					return nil, tc.err
				}})
			_, err := c.Flash(context.Background(), img, flash.Target{Path: out}, flash.Options{})
			if !tc.check(err) {
				t.Fatalf("error %v (%T) lost its type", err, err)
			}
		})
	}
}

func TestHelperCancel(t *testing.T) {
	img, _ := image(t, 4096)
	out := filepath.Join(t.TempDir(), "out.img")
	os.WriteFile(out, nil, 0o644)
	started := make(chan struct{})
	c := pair(t, ServeOptions{UID: -1, AllowFiles: true,
		write: func(ctx context.Context, _ source.Source, _ flash.Target, o flash.Options) (*flash.Result, error) {
			o.Progress(flash.Progress{Phase: flash.Writing})
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := c.Flash(ctx, img, flash.Target{Path: out}, flash.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestHelperRefusesBadRequests(t *testing.T) {
	img, _ := image(t, 4096)
	private := filepath.Join(t.TempDir(), "private.img")
	os.WriteFile(private, []byte("secret"), 0o600)
	out := filepath.Join(t.TempDir(), "out.img")
	os.WriteFile(out, nil, 0o644)
	for _, tc := range []struct {
		name     string
		uid      int
		image    string
		target   flash.Target
		wantMsg  string
		needRoot bool
	}{
		{"not under /dev", -1, img, flash.Target{Path: out}, "not a block device in /dev", false},
		{"not a block device", -1, img, flash.Target{Path: "/dev/null", Identity: disk.Identity{Major: 1, Minor: 3}}, "not a block device", false},
		{"unreadable image", 4242, private, flash.Target{Path: "/dev/null"}, "may not read", true},
		{"missing image", -1, "/nonexistent.img", flash.Target{Path: "/dev/null"}, "no such file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needRoot && os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			c := pair(t, ServeOptions{UID: tc.uid})
			_, err := c.Flash(context.Background(), tc.image, tc.target, flash.Options{})
			if !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %v, want a refused request mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func TestHelperDisksAndUnknownOp(t *testing.T) {
	tr := disktest.Sample(t)
	c := pair(t, ServeOptions{UID: -1, Root: tr.Root})
	disks, err := c.Disks(context.Background())
	if err != nil {
		t.Fatalf("Disks: %v", err)
	}
	var names []string
	for _, d := range disks {
		names = append(names, d.Name)
	}
	if !slices.Contains(names, "sdb") || !slices.Contains(names, "nvme0n1") || slices.Contains(names, "vda") {
		t.Errorf("disks %v are not the fake tree's", names)
	}
	var rerr error
	err = c.call(context.Background(), Request{Op: "format"}, false, func(ev Event) bool {
		rerr = ev.asError()
		return true
	})
	if err != nil || !errors.Is(rerr, ErrRequest) {
		t.Fatalf("unknown op: %v / %v", err, rerr)
	}
}

func TestClientSeesHelperExit(t *testing.T) {
	reqR, reqW := io.Pipe()
	evR, evW := io.Pipe()
	go func() { io.Copy(io.Discard, reqR) }()
	c := NewClient(evR, reqW)
	evW.Close()
	_, err := c.Disks(context.Background())
	if !errors.Is(err, ErrHelperExited) {
		t.Fatalf("error %v, want ErrHelperExited", err)
	}
}

func TestPolkitPolicy(t *testing.T) {
	var pol struct {
		Actions []struct {
			ID       string `xml:"id,attr"`
			Defaults struct {
				Active string `xml:"allow_active"`
				Any    string `xml:"allow_any"`
			} `xml:"defaults"`
			Annotate []struct {
				Key   string `xml:"key,attr"`
				Value string `xml:",chardata"`
			} `xml:"annotate"`
		} `xml:"action"`
	}
	if err := xml.Unmarshal(assets.PolkitPolicy(), &pol); err != nil {
		t.Fatalf("policy is not valid XML: %v", err)
	}
	if len(pol.Actions) != 1 || pol.Actions[0].ID != assets.PolkitActionID {
		t.Fatalf("actions %+v, want one %s", pol.Actions, assets.PolkitActionID)
	}
	a := pol.Actions[0]
	if !strings.HasPrefix(a.Defaults.Active, "auth_admin") || a.Defaults.Any != "auth_admin" {
		t.Errorf("defaults %+v: writing disks must need an administrator", a.Defaults)
	}
	ann := map[string]string{}
	for _, x := range a.Annotate {
		ann[x.Key] = x.Value
	}
	if ann["org.freedesktop.policykit.exec.argv1"] != "helper" || ann["org.freedesktop.policykit.exec.path"] == "" {
		t.Errorf("annotations %v do not bind the action to `pistudio helper`", ann)
	}
}
