package provision

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
)

// twinOf is d under another node: one medium (same serial and size).
func twinOf(d disk.Disk, name string) disk.Disk {
	d.Name, d.Path, d.Minor = name, "/dev/"+name, uint32(name[2]-'a')*16
	return d
}

// checkDisjoint fails when a disk, or one medium, is in two sets.
func checkDisjoint(t *testing.T, s *Sets) {
	t.Helper()
	var held []disk.Disk
	var who []string
	for i, p := range s.Plans {
		for _, ra := range p.Roles {
			if ra.Disk == nil || ra.IsFile() {
				continue
			}
			for j, h := range held {
				if same, why := disk.SameMedium(h, *ra.Disk); same {
					t.Errorf("set %d %s (%s) and %s (%s) are one medium: %s", i+1, ra.Role, ra.Disk.Path, who[j], h.Path, why)
				}
			}
			held, who = append(held, *ra.Disk), append(who, ra.Role)
		}
	}
}

func TestProposeSets(t *testing.T) {
	hddTwin := twinOf(hdd1000, "sdj")
	for _, tc := range []struct {
		name  string
		disks []disk.Disk
		n     int // sets
		ext   int // external roles per set
		want  []map[string]string
		ready error
	}{
		{
			name:  "every card first, then the externals set by set",
			disks: []disk.Disk{mmcSlot, stick8, ssd500, hdd1000, systemDisk},
			n:     2, ext: 1,
			want: []map[string]string{
				{"sd": "/dev/mmcblk0", "external1": "/dev/sdc"},
				{"sd": "/dev/sdb", "external1": "/dev/sdd"},
			},
		},
		{
			name:  "two readers and four usb disks",
			disks: []disk.Disk{hdd1000b, cardReader, ssd500, mmcSlot, hdd1000, stick8, nvmeSys},
			n:     2, ext: 2,
			want: []map[string]string{
				{"sd": "/dev/sdf", "external1": "/dev/sdb", "external2": "/dev/sdc"},
				{"sd": "/dev/mmcblk0", "external1": "/dev/sdd", "external2": "/dev/sde"},
			},
		},
		{
			name:  "too few disks: the last set goes without",
			disks: []disk.Disk{mmcSlot, stick8, ssd500, systemDisk},
			n:     2, ext: 1,
			want: []map[string]string{
				{"sd": "/dev/mmcblk0", "external1": "/dev/sdc"},
				{"sd": "/dev/sdb", "external1": "!only 1 eligible disks for 2 roles"},
			},
			ready: ErrTooFewDisks,
		},
		{
			name:  "one medium under two nodes goes to one set only",
			disks: []disk.Disk{mmcSlot, cardReader, hdd1000, hddTwin},
			n:     2, ext: 1,
			want: []map[string]string{
				{"sd": "/dev/sdf", "external1": "/dev/sdd"},
				{"sd": "/dev/mmcblk0", "external1": "!"},
			},
			ready: ErrNotReady,
		},
		{
			name:  "three sets",
			disks: []disk.Disk{mmcSlot, cardReader, stick8, ssd500, hdd1000, hdd1000b},
			n:     3, ext: 1,
			want: []map[string]string{
				{"sd": "/dev/sdf", "external1": "/dev/sdc"},
				{"sd": "/dev/mmcblk0", "external1": "/dev/sdd"},
				{"sd": "/dev/sdb", "external1": "/dev/sde"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := sparseSet(t, 64*mib, 4*gib, tc.ext)
			s, err := ProposeSets(m, dir, tc.disks, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Plans) != tc.n {
				t.Fatalf("%d plans", len(s.Plans))
			}
			for i, p := range s.Plans {
				for _, ra := range p.Roles {
					want := tc.want[i][ra.Role]
					if strings.HasPrefix(want, "!") {
						if ra.Disk != nil || !strings.Contains(ra.Problem, want[1:]) {
							t.Errorf("set %d %s: disk %v problem %q, want problem %q", i+1, ra.Role, ra.Disk, ra.Problem, want[1:])
						}
						continue
					}
					if ra.Disk == nil || ra.Disk.Path != want || ra.Reason == "" {
						t.Errorf("set %d %s: got %v (%s), want %s", i+1, ra.Role, ra.Disk, ra.Problem, want)
					}
				}
			}
			checkDisjoint(t, s)
			err = s.Ready()
			if tc.ready == nil && err != nil || tc.ready != nil && !errors.Is(err, tc.ready) {
				t.Errorf("Ready = %v, want %v", err, tc.ready)
			}
			if t.Failed() {
				for _, p := range s.Plans {
					t.Log("\n" + p.String())
				}
			}
		})
	}
}

func TestTooFewDisks(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 4*gib, 2)
	s, err := ProposeSets(m, dir, []disk.Disk{mmcSlot, stick8, ssd500, hdd1000, systemDisk, nvmeSys}, 2)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Ready()
	var tf *TooFewDisksError
	if !errors.As(err, &tf) || !errors.Is(err, ErrNotReady) || tf.Need != 6 || len(tf.Present) != 4 || tf.Protected != 2 {
		t.Fatalf("Ready = %#v", err)
	}
	msg := err.Error()
	for _, want := range []string{"2 sets need 6 disks (each set: an SD card and 2 external disks)",
		"only 4 eligible disks are present: /dev/mmcblk0 (SD32G, 29.8 GiB), /dev/sdb (SanDisk Cruzer Blade, 7.5 GiB), /dev/sdc",
		"/dev/sdd", "(2 more disks found are protected)", "connect 2 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "/dev/sda") {
		t.Errorf("message names a protected disk:\n%s", msg)
	}
	// Targets that are files need no disk.
	tmp := t.TempDir()
	if err := s.Apply([]Request{{SD: tmp + "/a", Externals: []string{tmp + "/b"}, AllowFiles: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("with two files, four disks for four disk targets: %v", err)
	}
	// No eligible disk at all.
	s, err = ProposeSets(m, dir, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); !errors.Is(err, ErrTooFewDisks) || !strings.Contains(err.Error(), "3 sets need 9 disks") || !strings.Contains(err.Error(), "no eligible disk is present") {
		t.Errorf("no disks: %v", err)
	}
}

func TestProposeOneSet(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 4*gib, 2)
	disks := []disk.Disk{hdd1000, systemDisk, ssd500, mmcSlot, stick8}
	p, err := Propose(m, dir, disks)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ProposeSets(m, dir, disks, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Plans[0].String(), p.String(); got != want {
		t.Errorf("one set:\n%s\nPropose:\n%s", got, want)
	}
	if _, err := ProposeSets(m, dir, disks, 0); !errors.Is(err, ErrSetCount) {
		t.Errorf("no sets: %v", err)
	}
}

func TestSetsApply(t *testing.T) {
	hddTwin := twinOf(hdd1000, "sdj")
	disks := []disk.Disk{mmcSlot, cardReader, stick8, ssd500, hdd1000, hdd1000b, hddTwin, systemDisk}
	dir, m := sparseSet(t, 64*mib, 4*gib, 2)
	file := filepath.Join(t.TempDir(), "x.img")
	propose := func(t *testing.T) *Sets {
		s, err := ProposeSets(m, dir, disks, 2)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("choices are kept, the rest proposed around them", func(t *testing.T) {
		s := propose(t)
		// The stick would be set 1's external1; set 2 takes it.
		if got := s.Plans[0].Role("external1").Disk.Path; got != "/dev/sdb" {
			t.Fatalf("set 1 external1 proposed %s", got)
		}
		err := s.Apply([]Request{{SD: "/dev/mmcblk0"}, {SD: "sdf", Externals: []string{"", "/dev/sdb"}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []map[string]string{
			{"sd": "/dev/mmcblk0", "external1": "/dev/sdc", "external2": "/dev/sdd"},
			{"sd": "/dev/sdf", "external1": "/dev/sde", "external2": "/dev/sdb"},
		}
		for i, p := range s.Plans {
			for _, ra := range p.Roles {
				if ra.Disk == nil || ra.Disk.Path != want[i][ra.Role] {
					t.Errorf("set %d %s: %v (%s), want %s", i+1, ra.Role, ra.Disk, ra.Problem, want[i][ra.Role])
				}
			}
		}
		if !s.Plans[1].Role("external2").Chosen || s.Plans[1].Role("external1").Chosen {
			t.Error("- was taken as a choice, or a choice lost")
		}
		checkDisjoint(t, s)
		if err := s.Ready(); err != nil {
			t.Fatal(err)
		}
		named := s.Named([]Request{{SD: "/dev/mmcblk0"}, {SD: "sdf", Externals: []string{"", "/dev/sdb"}}})
		if len(named) != 2 || named[0]["sd"] != "/dev/mmcblk0" || named[1]["external2"] != "/dev/sdb" || len(named[1]) != 2 {
			t.Errorf("Named = %v", named)
		}
		if s.DiskCount() != 6 {
			t.Errorf("DiskCount = %d", s.DiskCount())
		}
		// --yes needs every role of every set named.
		yes := []Request{{SD: "/dev/mmcblk0", Externals: []string{"/dev/sdc", "/dev/sdd"}, Yes: true}}
		if err := s.Apply(yes); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckYes(yes); !errors.Is(err, ErrYesUnnamed) || !strings.HasPrefix(err.Error(), "set 2: ") || !strings.Contains(err.Error(), "external1 (proposed: /dev/sde)") {
			t.Errorf("CheckYes, set 2 unnamed: %v", err)
		}
		yes = append(yes, Request{Externals: []string{"/dev/sde"}})
		if err := s.Apply(yes); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckYes(yes); err != nil {
			t.Errorf("CheckYes, all named: %v", err)
		}
	})
	for _, tc := range []struct {
		name string
		reqs []Request
		is   error
		want string
	}{
		{"one disk in two sets", []Request{{SD: "/dev/mmcblk0"}, {Externals: []string{"mmcblk0"}}}, ErrInUse,
			"set 2: external1: /dev/mmcblk0 is already chosen for sd of set 1"},
		{"one medium in two sets", []Request{{Externals: []string{"/dev/sdd"}}, {Externals: []string{"/dev/sdj"}}}, disk.ErrSameMedium,
			"set 2: external1: /dev/sdd and /dev/sdj are one medium (the same serial number \"S-sdd\" and size, chosen for external1 of set 1)"},
		{"one file in two sets", []Request{{SD: file, AllowFiles: true}, {SD: file, AllowFiles: true}}, ErrInUse,
			"set 2: sd: " + file + " is already chosen for sd of set 1"},
		{"more sets named than asked for", []Request{{}, {}, {SD: "/dev/sdb"}}, ErrTooManySets, "disks named for 3 sets, 2 asked for"},
		{"unknown disk", []Request{{}, {SD: "/dev/sdz"}}, disk.ErrNotFound, "set 2: sd: /dev/sdz"},
		{"protected disk", []Request{{SD: "/dev/sda"}}, disk.ErrProtected, "set 1: sd: "},
		{"too many externals", []Request{{}, {Externals: []string{"/dev/sdc", "/dev/sdd", "/dev/sde"}}}, ErrTooManyExternals, "set 2: too many external disks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := propose(t)
			err := s.Apply(tc.reqs)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Apply = %v, want %v with %q", err, tc.is, tc.want)
			}
			checkDisjoint(t, s)
		})
	}
}

// TestRunSets writes two sets through a recording Flash: a target of set
// 2 fails, set 1 and the rest of set 2 are written all the same, and each
// event names its set.
func TestRunSets(t *testing.T) {
	dir, m := sparseSet(t, 4*mib, 8*mib, 1)
	big := usbDisk("sde", 500*gb, "Big")
	big.NeedsTypedConfirm = true
	disks := []disk.Disk{mmcSlot, cardReader, usbDisk("sdb", 32*gb, "Stick"), usbDisk("sdc", 64*gb, "Stick"), big}
	injected := errors.New("injected write error")
	type rec struct {
		mu      sync.Mutex
		written []string
		sets    map[int]int
	}
	flashTo := func(r *rec, fail string) FlashFunc {
		return func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if tgt.Path == fail {
				return nil, injected
			}
			r.written = append(r.written, tgt.Path)
			return &flash.Result{Written: 4 * mib, Size: 4 * mib}, nil
		}
	}
	options := func(r *rec, fail string, typed ...map[string]string) func(int) Options {
		return func(n int) Options {
			o := Options{NoVerify: true, Flash: flashTo(r, fail), Progress: func(e Event) {
				r.mu.Lock()
				r.sets[n]++
				r.mu.Unlock()
			}}
			if n <= len(typed) {
				o.Confirmations = typed[n-1]
			}
			return o
		}
	}

	s, err := ProposeSets(m, dir, disks, 2)
	if err != nil {
		t.Fatal(err)
	}
	bad := s.Plans[1].Role("external1").Disk.Path
	r := &rec{sets: map[int]int{}}
	sums, err := RunSets(context.Background(), s, options(r, bad))
	var se *SetsError
	if !errors.As(err, &se) || se.Of != 2 || len(se.Failed) != 1 || se.Failed[0].Set != 2 || !errors.Is(err, injected) {
		t.Fatalf("RunSets = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "1 of 2 sets failed: set 2: 1 of 2 disks failed: external1 ("+bad+")") {
		t.Errorf("message %q", err)
	}
	if len(sums) != 2 || !sums[0].OK || sums[1].OK || sums[0].Number != 1 || sums[1].Of != 2 {
		t.Fatalf("summaries %+v", sums)
	}
	if sums[1].Targets[0].State != Done || sums[1].Targets[1].State != Failed {
		t.Errorf("set 2: %+v", sums[1].Targets)
	}
	if len(r.written) != 3 || r.sets[1] == 0 || r.sets[2] == 0 || len(r.sets) != 2 {
		t.Errorf("written %v, events per set %v", r.written, r.sets)
	}
	if l := sums[0].Labels(); !strings.Contains(l, "Set:        plan-test (1 of 2)") {
		t.Errorf("labels:\n%s", l)
	}
	if !strings.HasPrefix(sums[1].String(), "Set plan-test (2 of 2) FAILED") {
		t.Errorf("summary:\n%s", sums[1])
	}

	// A disk needing its name typed in set 2, not confirmed: nothing of
	// any set is written.
	if err := s.Apply([]Request{{}, {Externals: []string{"/dev/sde"}}}); err != nil {
		t.Fatal(err)
	}
	r = &rec{sets: map[int]int{}}
	_, err = RunSets(context.Background(), s, options(r, ""))
	if !errors.Is(err, ErrNotConfirmed) || !strings.HasPrefix(err.Error(), "set 2: ") || len(r.written) != 0 {
		t.Errorf("RunSets = %v, written %v", err, r.written)
	}
	_, err = RunSets(context.Background(), s, options(r, "", nil, map[string]string{"external1": "sde"}))
	if err != nil || len(r.written) != 4 {
		t.Errorf("confirmed: %v, written %v", err, r.written)
	}

	// Too few disks: nothing is written.
	s, err = ProposeSets(m, dir, disks[:3], 2)
	if err != nil {
		t.Fatal(err)
	}
	r = &rec{sets: map[int]int{}}
	if _, err := RunSets(context.Background(), s, options(r, "")); !errors.Is(err, ErrTooFewDisks) || len(r.written) != 0 {
		t.Errorf("too few: %v, written %v", err, r.written)
	}
}
