package source

import (
	"os"
	"sync"
	"sync/atomic"
)

// Measure is what a full decoding pass found out about an image file
// whose container does not record it (gzip, zstd without a content size,
// a compressed Android sparse image): its expanded size and the bytes a
// write copies. Opening the same unchanged file again in this process
// uses it instead of decoding the file once more.
type Measure struct {
	// Key is the version of the file measured.
	Key FileKey `json:"key"`
	// Size is the expanded image size in bytes.
	Size int64 `json:"size"`
	// DataSize is the number of bytes a write copies.
	DataSize int64 `json:"data_size"`
}

// FileKey names one version of a file: its device and inode, size,
// modification and status-change times. Rewriting the file in place
// changes its ctime, which no one can set back.
type FileKey struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	CtimeNs int64  `json:"ctime_ns"`
}

// valid reports whether m can stand for a decoding pass. An empty image
// never does: the stream of an empty source is not read, so nothing
// would check a measure saying 0 against the data.
func (m Measure) valid() bool {
	return m.Size > 0 && m.DataSize >= 0 && m.DataSize <= m.Size
}

// maxMeasures bounds the measures kept; the oldest goes first.
const maxMeasures = 64

var measures struct {
	sync.Mutex
	order []FileKey
	m     map[FileKey]Measure
}

// decodePasses counts the full decoding passes made to measure an image
// (tests read it).
var decodePasses atomic.Int64

func keyOfFile(f *os.File) (FileKey, bool) {
	st, err := f.Stat()
	if err != nil {
		return FileKey{}, false
	}
	return fileKey(st)
}

// lookupMeasure returns the measure recorded for k.
func lookupMeasure(k FileKey) (Measure, bool) {
	measures.Lock()
	defer measures.Unlock()
	m, ok := measures.m[k]
	return m, ok
}

func storeMeasure(m Measure) {
	if !m.valid() {
		return
	}
	measures.Lock()
	defer measures.Unlock()
	if measures.m == nil {
		measures.m = map[FileKey]Measure{}
	}
	if _, ok := measures.m[m.Key]; !ok {
		measures.order = append(measures.order, m.Key)
		if len(measures.order) > maxMeasures {
			delete(measures.m, measures.order[0])
			measures.order = measures.order[1:]
		}
	}
	measures.m[m.Key] = m
}

// Measured returns the measure this process recorded for the image at
// path as it is now, if a decoding pass over it was made (by Open or
// Inspect). A client hands it to a helper process that opens the same
// file, so that the helper skips the pass (see Remember).
func Measured(path string) (Measure, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return Measure{}, false
	}
	k, ok := fileKey(st)
	if !ok {
		return Measure{}, false
	}
	return lookupMeasure(k)
}

// Remember records a measure made elsewhere (by the process that asked
// for a write) for the opened file f, if m names f as it is now. It
// reports whether it did. A wrong measure cannot make a write wrong: the
// writer checks the decoded stream against the size (a raw image) and
// the chunk layout (a sparse image) as it goes, and stops at the first
// difference.
func Remember(f *os.File, m Measure) bool {
	k, ok := keyOfFile(f)
	if !ok || k != m.Key || !m.valid() {
		return false
	}
	storeMeasure(m)
	return true
}
