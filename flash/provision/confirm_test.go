package provision

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
)

// TestRunTypedConfirmation: a disk that needs its name typed is written
// only when Options.Confirmations names it, by role or by path; otherwise
// nothing of the set is written.
func TestRunTypedConfirmation(t *testing.T) {
	big := usbDisk("sdc", 500*gb, "Samsung SSD 870")
	big.NeedsTypedConfirm = true
	small := usbDisk("sdb", 32*gb, "Cruzer")
	for _, tc := range []struct {
		name  string
		typed map[string]string
		ok    bool
	}{
		{"none", nil, false},
		{"empty", map[string]string{"external1": ""}, false},
		{"wrong name", map[string]string{"external1": "sdb"}, false},
		{"wrong key", map[string]string{"sd": "sdc"}, false},
		{"role, name", map[string]string{"external1": "sdc"}, true},
		{"role, path", map[string]string{"external1": "/dev/sdc"}, true},
		{"path key, spaces", map[string]string{"/dev/sdc": " sdc\n"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := sparseSet(t, 4*mib, 8*mib, 1)
			p, err := Propose(m, dir, []disk.Disk{mmcSlot, small, big})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Assign("external1", "/dev/sdc"); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var written []string
			_, err = Run(context.Background(), p, Options{NoVerify: true, Confirmations: tc.typed,
				Flash: func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
					mu.Lock()
					written = append(written, tgt.Path)
					mu.Unlock()
					return &flash.Result{}, nil
				}})
			var nc *NotConfirmedError
			if tc.ok {
				if err != nil || len(written) != 2 {
					t.Errorf("err %v, written %v", err, written)
				}
				return
			}
			if !errors.Is(err, ErrNotConfirmed) || !errors.As(err, &nc) || nc.Device != "/dev/sdc" || nc.Role != "external1" {
				t.Errorf("error %v, want a NotConfirmedError for external1", err)
			}
			if len(written) != 0 {
				t.Errorf("wrote %v without a confirmation", written)
			}
		})
	}
}
