package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExpandLongestNameFirst(t *testing.T) {
	got := expand("dd if=$RAW of=$LOOP && cmp $RAWX", map[string]string{"RAW": "/a", "RAWX": "/b", "LOOP": "/dev/loop7"})
	if want := "dd if=/a of=/dev/loop7 && cmp /b"; got != want {
		t.Fatalf("expand = %q, want %q", got, want)
	}
}

func TestCheckDevicesRefusesForeignDevices(t *testing.T) {
	b := &bench{}
	b.loops.devs = map[string]string{"/dev/loop3": "/tmp/x"}
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"dd if=/dev/zero of=/dev/loop3 bs=4M", true},
		{"dd if=/x of=/dev/null", true},
		{"dd if=/x of=/dev/vda", false},
		{"dd if=/x of=/dev/loop4", false},
		{"cat /x > /dev/sda", false},
		{"dd if=/dev/loop3 | cmp - /dev/nvme0n1", false},
		{"bmaptool copy --bmap a b '/dev/sdb'", false},
	} {
		err := b.checkDevices(tc.line)
		if (err == nil) != tc.ok {
			t.Errorf("checkDevices(%q) = %v, want ok=%v", tc.line, err, tc.ok)
		}
	}
}

func TestLoopSetRefusesOthers(t *testing.T) {
	var l loopSet
	if l.owns("/dev/loop0") {
		t.Fatal("an empty set owns a device")
	}
	if err := l.detach("/dev/loop0"); err == nil {
		t.Fatal("detached a device it never attached")
	}
}

func TestMedianAndRatio(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0}, {[]time.Duration{3 * s}, 3 * s}, {[]time.Duration{5 * s, 1 * s, 3 * s}, 3 * s},
		{[]time.Duration{4 * s, 1 * s, 2 * s, 8 * s}, 3 * s},
	} {
		if got := medianOf(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	base := &row{times: []time.Duration{2 * s}}
	r := &row{times: []time.Duration{3 * s}, base: base, bytes: 300e6}
	if r.ratio() != 1.5 || r.rate() != 100 {
		t.Fatalf("ratio %v rate %v", r.ratio(), r.rate())
	}
}

func TestScaledSizesAreAligned(t *testing.T) {
	for _, s := range []float64{0.05, 0.1, 0.33, 1, 2} {
		z := scaled(s)
		if z.raw%(4<<20) != 0 || z.big%(4<<20) != 0 || z.rawData > z.raw || z.bigData > z.big {
			t.Errorf("scale %v: %+v", s, z)
		}
		if z.external%(8<<20) != 0 || z.rootPart%(8<<20) != 0 || z.external8 < z.external {
			t.Errorf("scale %v: partition sizes %+v", s, z)
		}
	}
}

func TestGenImageIsDeterministicAndHoley(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	for _, p := range []string{a, b} {
		if err := genImage(p, 64<<20, 16<<20, 9); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("the same seed gave different images")
	}
	if da[510] != 0x55 || da[511] != 0xAA {
		t.Fatal("no MBR signature")
	}
	var data int64
	for i := 0; i < len(da); i += genBlock {
		if !bytes.Equal(da[i:i+genBlock], make([]byte, genBlock)) {
			data += genBlock
		}
	}
	// 10% of the data blocks are written zeros.
	if data < 12<<20 || data > 17<<20 {
		t.Fatalf("%d bytes of non-zero data, want about 16 MiB", data)
	}
}

func TestWriteMarkdownKeepsTextOutsideMarks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "B.md")
	old := "# Title\n\nintro\n\n" + beginMark + "\nold table\n" + endMark + "\n\n## Notes by hand\n"
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: &config{scale: 1, reps: 3}}
	b.add(&row{group: "a", name: "dd | cat", cmds: []string{"dd if=$RAW"}, times: []time.Duration{time.Second}})
	if err := b.writeMarkdown(p); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	s := string(got)
	for _, want := range []string{"# Title\n\nintro\n\n" + beginMark, "## Notes by hand\n", "| dd \\| cat | 1.00 s |", "`dd if=$RAW`"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
	if strings.Contains(s, "old table") || strings.Count(s, beginMark) != 1 {
		t.Errorf("old generated part not replaced:\n%s", s)
	}
}
