package image

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/image/md"
	"github.com/pistudio/pistudio/internal/golden"
)

func TestRaidConfigGolden(t *testing.T) {
	u, _ := md.ParseUUID("0badc0de:01234567:89abcdef:00112233")
	a, err := md.NewArray(md.RAID1, 2, 1016<<20, "raid-device:0", u, fixedRand(3), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := renderRaidConfig("raid-test", a)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "raid_config.golden.sh"), got)
}

func TestMdadmConf(t *testing.T) {
	u, _ := md.ParseUUID("0badc0de:01234567:89abcdef:00112233")
	a, err := md.NewArray(md.RAID0, 3, 100<<20, "h:0", u, fixedRand(4), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	line := "ARRAY /dev/md0 metadata=1.2 UUID=0badc0de:01234567:89abcdef:00112233 name=h:0\n"
	cases := []struct{ in, want string }{
		{"", "# mdadm.conf written by Pi Image Studio\nHOMEHOST <system>\nMAILADDR root\n" + line},
		{"HOMEHOST <system>\nARRAY /dev/md0 metadata=1.2 UUID=11111111:22222222:33333333:44444444 name=x:0\nARRAY /dev/md1 UUID=55555555:66666666:77777777:88888888\n",
			"HOMEHOST <system>\nARRAY /dev/md1 UUID=55555555:66666666:77777777:88888888\n" + line},
	}
	for _, c := range cases {
		if got := string(rewriteMdadmConf([]byte(c.in), a)); got != c.want {
			t.Errorf("rewriteMdadmConf(%q) =\n%s\nwant\n%s", c.in, got, c.want)
		}
	}
	uu, name := existingArray([]byte(cases[1].in))
	if uu.String() != "11111111:22222222:33333333:44444444" || name != "x:0" {
		t.Errorf("existingArray = %s %q", uu, name)
	}
	if uu, _ := existingArray([]byte("ARRAY /dev/md1 UUID=55555555:66666666:77777777:88888888\n")); uu != (md.UUID{}) {
		t.Errorf("existingArray took another array's line: %s", uu)
	}
}

func TestRewriteFstab(t *testing.T) {
	in := "# comment / x\nproc /proc proc defaults 0 0\n/dev/sda2 / ext4 rw 0 1\nLABEL=BOOT /boot/firmware vfat rw 0 2\n"
	want := "# comment / x\nproc /proc proc defaults 0 0\n" +
		"UUID=r  /  ext4  defaults,noatime,errors=remount-ro,commit=30  0  1\n" +
		"UUID=B-1  /boot/firmware  vfat  defaults,noatime,errors=remount-ro  0  2\n"
	if got := string(rewriteFstab([]byte(in), "UUID=r", "UUID=B-1")); got != want {
		t.Errorf("rewriteFstab =\n%s\nwant\n%s", got, want)
	}
}

func FuzzExistingArray(f *testing.F) {
	f.Add([]byte("ARRAY /dev/md0 metadata=1.2 UUID=0badc0de:01234567:89abcdef:00112233 name=h:0\n"))
	f.Add([]byte("ARRAY /dev/md0 UUID=zz\nARRAY"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, _ := existingArray(b)
		if u != (md.UUID{}) {
			if _, err := md.ParseUUID(u.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
