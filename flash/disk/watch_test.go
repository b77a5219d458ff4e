package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return Event{}
}

func TestWatchPoll(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.USBStick("sdb", 16, disktest.USBParent))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{ScanOptions: ScanOptions{Root: tr.Root}, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != Added || ev.Disk.Name != "sdb" {
		t.Fatalf("first event %v %s", ev.Kind, ev.Disk.Name)
	}
	tr.AddDisk(disktest.Disk{Name: "mmcblk0", Major: 179, Minor: 0, Sectors: 1 << 21, Parent: disktest.MMCParent,
		DeviceFiles: map[string]string{"name": "SC16G"}})
	if ev := next(t, ch); ev.Kind != Added || ev.Disk.Name != "mmcblk0" || ev.Disk.Model != "SC16G" || !ev.Disk.Eligible {
		t.Fatalf("after insert: %v %+v", ev.Kind, ev.Disk)
	}
	tr.Mount("/dev/sdb2", "/", "ext4")
	if ev := next(t, ch); ev.Kind != Changed || ev.Disk.Name != "sdb" || ev.Disk.Eligible {
		t.Fatalf("after mount: %v %+v", ev.Kind, ev.Disk)
	}
	tr.Remove("sdb")
	if ev := next(t, ch); ev.Kind != Removed || ev.Disk.Name != "sdb" {
		t.Fatalf("after removal: %v %s", ev.Kind, ev.Disk.Name)
	}
	cancel()
	for range ch { // drains, then closes
	}
}

// TestWatchUevents attaches a loop device while watching the running
// system and expects to hear of it from a kernel uevent (the safety
// re-scan is set to an hour, so nothing else can report it).
func TestWatchUevents(t *testing.T) {
	disktest.NeedRoot(t)
	img := filepath.Join(t.TempDir(), "w.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, WatchOptions{ScanOptions: ScanOptions{NoProbe: true}, Debounce: 100 * time.Millisecond, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Drain the initial Added events (and events of other loop devices).
	for quiet, stop := false, time.After(3*time.Second); !quiet; {
		select {
		case <-ch:
		case <-time.After(300 * time.Millisecond):
			quiet = true
		case <-stop:
			quiet = true
		}
	}
	loop := disktest.Attach(t, img).Dev
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Disk.Path == loop && ev.Kind == Added {
				if !ev.Disk.Eligible || ev.Disk.Bus != "loop" {
					t.Errorf("%s: %+v", loop, ev.Disk)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no Added event for %s within 15s", loop)
		}
	}
}

func TestWatchError(t *testing.T) {
	if _, err := Watch(context.Background(), WatchOptions{ScanOptions: ScanOptions{Root: t.TempDir()}}); err == nil {
		t.Error("Watch on an empty root: no error")
	}
}

func TestDiff(t *testing.T) {
	a := Disk{Name: "sdb", Major: 8, Minor: 16, SizeBytes: 100, Eligible: true}
	b := Disk{Name: "sdc", Major: 8, Minor: 32, SizeBytes: 100, Eligible: true}
	a2 := a
	a2.SizeBytes = 200 // another card
	a3 := a
	a3.Eligible = false
	state := map[string]Disk{}
	kinds := func(evs []Event) string {
		var s []string
		for _, e := range evs {
			s = append(s, e.Kind.String()+":"+e.Disk.Name)
		}
		return strings.Join(s, " ")
	}
	steps := []struct {
		disks []Disk
		want  string
	}{
		{[]Disk{a}, "added:sdb"},
		{[]Disk{a, b}, "added:sdc"},
		{[]Disk{a, b}, ""},
		{[]Disk{a2, b}, "removed:sdb added:sdb"},
		{[]Disk{a3, b}, "removed:sdb added:sdb"},
		{[]Disk{a3, b}, ""},
		{[]Disk{a}, "removed:sdc changed:sdb"}, // removals first
		{nil, "removed:sdb"},
	}
	for i, st := range steps {
		if got := kinds(diff(state, st.disks)); got != st.want {
			t.Errorf("step %d: %q, want %q", i, got, st.want)
		}
	}
}

func TestParseUevent(t *testing.T) {
	msg := "add@/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb\x00" +
		"ACTION=add\x00DEVPATH=/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb\x00" +
		"SUBSYSTEM=block\x00MAJOR=8\x00MINOR=16\x00DEVNAME=sdb\x00DEVTYPE=disk\x00DISKSEQ=12\x00SEQNUM=4711\x00"
	ev, err := ParseUevent([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := Uevent{Action: "add", DevPath: "/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb",
		Subsystem: "block", DevName: "sdb", DevType: "disk", Major: 8, Minor: 16, Seq: 4711}
	got := ev
	got.Env = nil
	if !reflect.DeepEqual(got, want) || ev.Env["DISKSEQ"] != "12" || !ev.affectsDisks() {
		t.Errorf("got %+v", ev)
	}
	for _, bad := range []string{
		"", "libudev\x00\xfe\xed\xca\xfe", "add", "add@relative\x00", "@/devices\x00", "add@/x\x00garbage\x00",
		"add@/x\x00ACTION=remove\x00", "add@/x\x00=v\x00",
	} {
		if _, err := ParseUevent([]byte(bad)); !errors.Is(err, ErrNotUevent) {
			t.Errorf("ParseUevent(%q) = %v, want ErrNotUevent", bad, err)
		}
	}
	ev, err = ParseUevent([]byte("change@/devices/virtual/net/lo\x00SUBSYSTEM=net\x00"))
	if err != nil || ev.affectsDisks() {
		t.Errorf("net event: %+v %v", ev, err)
	}
}

func FuzzParseUevent(f *testing.F) {
	f.Add([]byte("add@/devices/virtual/block/loop0\x00ACTION=add\x00SUBSYSTEM=block\x00MAJOR=7\x00MINOR=0\x00SEQNUM=1\x00"))
	f.Add([]byte("remove@/devices/x\x00"))
	f.Add([]byte("libudev\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseUevent(b)
		if err != nil {
			if !errors.Is(err, ErrNotUevent) {
				t.Fatalf("error %v does not wrap ErrNotUevent", err)
			}
			return
		}
		if ev.Action == "" || !strings.HasPrefix(ev.DevPath, "/") || ev.Env == nil {
			t.Fatalf("accepted %q as %+v", b, ev)
		}
	})
}

func FuzzProcParsers(f *testing.F) {
	f.Add("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n", "/dev/sda1 /mnt\\040x vfat rw 0 0\n", "Filename Type\n/dev/sdb2 partition 1 0 -2\n", "E:ID_MODEL_ENC=a\\x20b\n")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, mi, mounts, swaps, udev string) {
		for _, m := range parseMountInfo(mi) {
			if m.Target == "" && m.Source == "" && m.FSType == "" {
				t.Fatalf("empty entry from %q", mi)
			}
		}
		_ = parseMounts(mounts)
		_ = parseSwaps(swaps)
		for k, v := range parseUdev(udev) {
			_ = unescapeUdev(k + v)
		}
	})
}

func TestProcParsers(t *testing.T) {
	mi := parseMountInfo("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n36 35 8:17 / /media/My\\040Card rw shared:1 - vfat /dev/sdb1 rw\nbad line\n")
	if len(mi) != 2 || mi[0].Major != 254 || mi[0].Target != "/" || mi[1].Target != "/media/My Card" || mi[1].Source != "/dev/sdb1" || mi[1].FSType != "vfat" {
		t.Errorf("mountinfo: %+v", mi)
	}
	sw := parseSwaps("Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition 8 0 -2\n/swap\\040file file 1 0 -3\n")
	if len(sw) != 2 || sw[0].Path != "/dev/dm-1" || sw[0].File || sw[1].Path != "/swap file" || !sw[1].File {
		t.Errorf("swaps: %+v", sw)
	}
	if got := unescapeUdev(`SanDisk\x20Ultra\x2`); got != `SanDisk Ultra\x2` {
		t.Errorf("unescapeUdev: %q", got)
	}
	if got := unescapeOctal(`a\\b\040c\9`); got != `a\\b c\9` {
		t.Errorf("unescapeOctal: %q", got)
	}
}
