package disk

import (
	"fmt"
	"os"
	"path/filepath"
)

// probe fills in filesystem type, label and UUID of d's partitions that
// udev and the mount table left unknown, from their superblocks.
func (s *scanner) probe(d *Disk) {
	for i := range d.Partitions {
		p := &d.Partitions[i]
		if p.FSType != "" {
			continue
		}
		info, ok, err := s.probeOne(p.Path, p.SizeBytes)
		if err != nil || !ok {
			continue
		}
		p.FSType = info.Type
		if p.Label == "" {
			p.Label = info.Label
		}
		if p.UUID == "" {
			p.UUID = info.UUID
		}
	}
}

func (s *scanner) probeOne(devPath string, size int64) (FSInfo, bool, error) {
	open := s.opts.Open
	if open == nil {
		open = s.defaultOpen
	}
	f, err := open(devPath)
	if err != nil {
		return FSInfo{}, false, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && (size == 0 || st.Size() < size) {
		size = st.Size()
	}
	return Probe(f, size)
}

func (s *scanner) defaultOpen(devPath string) (*os.File, error) {
	if s.real {
		return os.OpenFile(devPath, os.O_RDONLY, 0)
	}
	p := filepath.Join(s.root, devPath)
	st, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file in a fake tree", p)
	}
	return os.Open(p)
}
