package flashcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/cli"
)

// TestProvisionTypedName: a disk over the typed-confirmation size is
// written after its kernel name or its /dev path is typed, or when it was
// named with --yes; anything else writes nothing. The writes are recorded,
// never performed.
func TestProvisionTypedName(t *testing.T) {
	t.Parallel()
	mmc := disk.Disk{Name: "mmcblk0", Path: "/dev/mmcblk0", SizeBytes: 16e9, Bus: "mmc", Model: "SD16G", Eligible: true}
	big := disk.Disk{Name: "sdc", Path: "/dev/sdc", SizeBytes: 500e9, Bus: "usb", Model: "Big", Eligible: true, NeedsTypedConfirm: true}
	set := provisionSet(t, 1)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		ok    bool
	}{
		{"kernel name", "yes\nsdc\n", nil, true},
		{"device path", "yes\n/dev/sdc\n", nil, true},
		{"spaces", "yes\n  /dev/sdc \n", nil, true},
		{"wrong name", "yes\nsdb\n", nil, false},
		{"no name", "yes\n", nil, false},
		{"named with --yes", "", []string{"--yes", "--sd", "mmcblk0", "--external", "/dev/sdc"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var written []string
			s := defaultSystem()
			s.prov = provisionDeps{
				scan: func([]string) ([]disk.Disk, error) { return []disk.Disk{mmc, big}, nil },
				flasher: func(context.Context, bool) (provision.FlashFunc, func() error, error) {
					return func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
						b, err := os.ReadFile(img)
						if err != nil {
							return nil, err
						}
						h := sha256.Sum256(b)
						mu.Lock()
						written = append(written, tgt.Path)
						mu.Unlock()
						return &flash.Result{Written: int64(len(b)), Size: int64(len(b)), SHA256: hex.EncodeToString(h[:])}, nil
					}, func() error { return nil }, nil
				},
			}
			stdout, stderr, err := runCmd(t, s.runProvision, tc.stdin, append([]string{set, "--no-verify"}, tc.args...)...)
			if tc.ok {
				if err != nil || !slices.Contains(written, "/dev/sdc") {
					t.Errorf("err %v, written %v\nstdout:\n%s\nstderr:\n%s", err, written, stdout, stderr)
				}
				return
			}
			if cli.ExitCode(err) != 1 || err == nil || !strings.Contains(err.Error(), "not confirmed") || len(written) != 0 {
				t.Errorf("err %v, written %v, want not confirmed and nothing written", err, written)
			}
		})
	}
}
