package provision

import (
	"fmt"
	"os"

	"github.com/pistudio/pistudio/flash/disk"
)

// distinct returns a *disk.SameMediumError when two targets of roles are
// one medium: two disks (disk.CheckDistinct), two names of one file, or a
// file and a loop device backed by it. fresh, when set, holds the disks as
// a scan finds them now, by path; they replace the plan's.
func distinct(roles []RoleAssignment, fresh map[string]disk.Disk) error {
	var disks []disk.Disk
	var files []RoleAssignment
	for _, ra := range roles {
		switch {
		case ra.Disk == nil:
		case ra.IsFile():
			files = append(files, ra)
		default:
			d := *ra.Disk
			if f, ok := fresh[d.Path]; ok {
				d = f
			}
			disks = append(disks, d)
		}
	}
	if err := disk.CheckDistinct(disks); err != nil {
		return err
	}
	return distinctFiles(files, disks)
}

// distinctFiles compares file targets with each other (os.SameFile) and
// with the files backing loop device targets (device and inode).
func distinctFiles(files []RoleAssignment, disks []disk.Disk) error {
	stats := make([]os.FileInfo, len(files))
	for i, ra := range files {
		st, err := os.Stat(ra.Disk.Path)
		if err != nil {
			continue // not there yet: the writer creates it
		}
		stats[i] = st
		for j := 0; j < i; j++ {
			if stats[j] != nil && os.SameFile(stats[j], st) {
				return &disk.SameMediumError{A: files[j].Disk.Path, B: ra.Disk.Path, Why: "the same file"}
			}
		}
		maj, min, ino, ok := fileID(st)
		if !ok {
			continue
		}
		for _, d := range disks {
			if d.Loop != nil && !d.Loop.IsBlock() && d.Loop.Inode == ino && d.Loop.DevMajor == maj && d.Loop.DevMinor == min {
				return &disk.SameMediumError{A: ra.Disk.Path, B: d.Path, Why: fmt.Sprintf("%s is a loop device backed by %s", d.Path, ra.Disk.Path)}
			}
		}
	}
	return nil
}

// freshDisks re-reads each disk target of p under root as it is now (a
// loop device may have been re-attached since the plan was made), by
// path; a target the guard cannot read is left to the writer.
func freshDisks(p *Plan, root string) map[string]disk.Disk {
	out := map[string]disk.Disk{}
	for _, ra := range p.Roles {
		if ra.Disk == nil || ra.IsFile() {
			continue
		}
		if d, _ := disk.Guard(root, ra.Disk.Path, ra.Disk.Identity(), nil); d.Path != "" {
			out[ra.Disk.Path] = d
		}
	}
	return out
}
