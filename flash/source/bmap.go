package source

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
)

// BlockMap is a parsed bmaptool block map: which blocks of a raw image
// hold data, each range with an optional checksum.
type BlockMap struct {
	// ImageSize is the size of the image in bytes.
	ImageSize int64
	// BlockSize is the size of one block in bytes.
	BlockSize int64
	// BlocksCount is the number of blocks in the image.
	BlocksCount int64
	// ChecksumType is "sha256" or "sha1" ("" when ranges carry none).
	ChecksumType string
	// Ranges are the mapped ranges in ascending order.
	Ranges []BmapRange
}

// BmapRange is one mapped range of blocks.
type BmapRange struct {
	// First and Last are the inclusive block numbers.
	First, Last int64
	// Checksum is the expected hex digest of the range's bytes, or "".
	Checksum string
}

// ChecksumError reports data whose checksum does not match its block map.
type ChecksumError struct {
	// Range is the block range as the map writes it ("5-9").
	Range string
	// Extent is the byte range.
	Extent Extent
	// Want and Got are the hex digests.
	Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("block map range %s (bytes %d-%d): checksum mismatch: want %s, got %s",
		e.Range, e.Extent.Offset, e.Extent.End()-1, e.Want, e.Got)
}

type bmapXML struct {
	XMLName          xml.Name `xml:"bmap"`
	Version          string   `xml:"version,attr"`
	ImageSize        string   `xml:"ImageSize"`
	BlockSize        string   `xml:"BlockSize"`
	BlocksCount      string   `xml:"BlocksCount"`
	ChecksumType     string   `xml:"ChecksumType"`
	BmapFileChecksum string   `xml:"BmapFileChecksum"`
	BmapFileSHA1     string   `xml:"BmapFileSHA1"`
	Ranges           []struct {
		Chksum string `xml:"chksum,attr"`
		SHA1   string `xml:"sha1,attr"`
		Text   string `xml:",chardata"`
	} `xml:"BlockMap>Range"`
}

// ParseBmap parses and validates a bmaptool XML block map, including the
// checksum of the map file itself when it carries one.
func ParseBmap(data []byte) (*BlockMap, error) {
	var x bmapXML
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, formatErrorf("block map XML: %v", err)
	}
	m, err := bmapSizes(&x)
	if err != nil {
		return nil, err
	}
	if err := m.checksumType(&x, data); err != nil {
		return nil, err
	}
	next := int64(0)
	for _, r := range x.Ranges {
		br, err := m.parseRange(r.Text, r.Chksum, r.SHA1, next)
		if err != nil {
			return nil, err
		}
		m.Ranges = append(m.Ranges, br)
		next = br.Last + 1
	}
	return m, nil
}

// bmapNum parses a non-negative number of the map.
func bmapNum(name, s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return 0, formatErrorf("block map %s %q is not a number", name, strings.TrimSpace(s))
	}
	return v, nil
}

// bmapSizes reads and checks the image size, block size and block count.
func bmapSizes(x *bmapXML) (*BlockMap, error) {
	var m BlockMap
	var err error
	if m.ImageSize, err = bmapNum("ImageSize", x.ImageSize); err != nil {
		return nil, err
	}
	if m.BlockSize, err = bmapNum("BlockSize", x.BlockSize); err != nil {
		return nil, err
	}
	if m.BlocksCount, err = bmapNum("BlocksCount", x.BlocksCount); err != nil {
		return nil, err
	}
	switch {
	case m.BlockSize == 0 || m.BlockSize > 1<<30:
		return nil, formatErrorf("block map block size %d is out of range", m.BlockSize)
	case m.ImageSize > 1<<52:
		return nil, formatErrorf("block map image size %d is out of range", m.ImageSize)
	case m.BlocksCount != (m.ImageSize+m.BlockSize-1)/m.BlockSize:
		return nil, formatErrorf("block map counts %d blocks of %d bytes for an image of %d bytes", m.BlocksCount, m.BlockSize, m.ImageSize)
	}
	return &m, nil
}

// checksumType sets the map's checksum type (version 1.x maps use SHA-1)
// and checks the map file's own checksum when it has one.
func (m *BlockMap) checksumType(x *bmapXML, data []byte) error {
	m.ChecksumType = strings.ToLower(strings.TrimSpace(x.ChecksumType))
	fileSum := strings.TrimSpace(x.BmapFileChecksum)
	if m.ChecksumType == "" && (strings.TrimSpace(x.BmapFileSHA1) != "" || strings.HasPrefix(x.Version, "1.")) {
		m.ChecksumType = "sha1"
		fileSum = strings.TrimSpace(x.BmapFileSHA1)
	}
	if m.ChecksumType != "" && m.ChecksumType != "sha1" && m.ChecksumType != "sha256" {
		return formatErrorf("block map checksum type %q is not supported", m.ChecksumType)
	}
	if fileSum == "" {
		return nil
	}
	return checkBmapFile(data, fileSum, m.ChecksumType)
}

// parseRange parses one Range element ("FIRST-LAST" or "BLOCK") with its
// checksum attributes; next is the first block it may start at.
func (m *BlockMap) parseRange(text, chksum, sha1 string, next int64) (BmapRange, error) {
	t := strings.TrimSpace(text)
	a, b, ok := strings.Cut(t, "-")
	first, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	last, err2 := first, error(nil)
	if ok {
		last, err2 = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	}
	switch {
	case err1 != nil || err2 != nil || first < 0 || last < first:
		return BmapRange{}, formatErrorf("block map range %q is malformed", t)
	case first < next:
		return BmapRange{}, formatErrorf("block map range %q overlaps or precedes the one before", t)
	case last >= m.BlocksCount:
		return BmapRange{}, formatErrorf("block map range %q is past the last block %d", t, m.BlocksCount-1)
	}
	sum := strings.ToLower(strings.TrimSpace(chksum))
	if sum == "" {
		sum = strings.ToLower(strings.TrimSpace(sha1))
	}
	if sum != "" {
		want := 64
		if m.ChecksumType == "sha1" {
			want = 40
		}
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != want || m.ChecksumType == "" {
			return BmapRange{}, formatErrorf("block map range %q has a malformed checksum", t)
		}
	}
	return BmapRange{First: first, Last: last, Checksum: sum}, nil
}

// checkBmapFile verifies the checksum a block map carries of itself: the
// digest of the file with the digest's own text replaced by zeros.
func checkBmapFile(data []byte, sum, typ string) error {
	i := bytes.Index(data, []byte(sum))
	if i < 0 {
		return formatErrorf("block map checksum not found in the file")
	}
	z := bytes.Clone(data)
	copy(z[i:], bytes.Repeat([]byte("0"), len(sum)))
	h := newHash(typ)
	h.Write(z)
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(sum) {
		return formatErrorf("block map file checksum mismatch (damaged or edited): want %s, got %s", sum, got)
	}
	return nil
}

func newHash(typ string) hash.Hash {
	if typ == "sha1" {
		return sha1.New()
	}
	return sha256.New()
}

// Extent returns the byte range of r in an image described by m.
func (m *BlockMap) Extent(r BmapRange) Extent {
	off := r.First * m.BlockSize
	end := min((r.Last+1)*m.BlockSize, m.ImageSize)
	return Extent{off, end - off}
}

// MappedSize returns the number of bytes the map's ranges cover.
func (m *BlockMap) MappedSize() int64 {
	var n int64
	for _, r := range m.Ranges {
		n += m.Extent(r).Length
	}
	return n
}

// bmapSource yields the mapped ranges of a linear image stream.
type bmapSource struct {
	*base
	r    io.Reader
	m    *BlockMap
	i    int
	pos  int64
	cur  *rangeReader
	data int64
}

func newBmapSource(b *base, r io.Reader, m *BlockMap) *bmapSource {
	return &bmapSource{base: b, r: r, m: m, data: m.MappedSize()}
}

func (s *bmapSource) Size() int64     { return s.m.ImageSize }
func (s *bmapSource) DataSize() int64 { return s.data }

func (s *bmapSource) Next() (Extent, io.Reader, error) {
	if s.cur != nil {
		// Skip what the caller left of the previous range.
		if _, err := io.Copy(io.Discard, s.cur); err != nil {
			return Extent{}, nil, err
		}
		s.cur = nil
	}
	if s.i >= len(s.m.Ranges) {
		return Extent{}, nil, io.EOF
	}
	rg := s.m.Ranges[s.i]
	s.i++
	e := s.m.Extent(rg)
	if e.Length == 0 {
		return s.Next()
	}
	if gap := e.Offset - s.pos; gap > 0 {
		if sk, ok := s.r.(io.Seeker); ok {
			if _, err := sk.Seek(e.Offset, io.SeekStart); err != nil {
				return Extent{}, nil, fmt.Errorf("seeking image: %w", err)
			}
		} else if _, err := io.CopyN(io.Discard, s.r, gap); err != nil {
			return Extent{}, nil, fmt.Errorf("skipping unmapped blocks: %w", err)
		}
	}
	s.pos = e.End()
	name := strconv.FormatInt(rg.First, 10)
	if rg.Last != rg.First {
		name += "-" + strconv.FormatInt(rg.Last, 10)
	}
	rr := &rangeReader{r: s.r, remain: e.Length, ext: e, name: name, want: rg.Checksum}
	if rg.Checksum != "" {
		rr.h = newHash(s.m.ChecksumType)
	}
	s.cur = rr
	return e, rr, nil
}

// rangeReader yields one mapped range and checks its checksum at the end.
type rangeReader struct {
	r      io.Reader
	remain int64
	ext    Extent
	name   string
	h      hash.Hash
	want   string
	err    error
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.remain -= int64(n)
	if r.h != nil {
		r.h.Write(p[:n])
	}
	if r.remain == 0 {
		if r.h != nil {
			if got := hex.EncodeToString(r.h.Sum(nil)); got != r.want {
				r.err = &ChecksumError{Range: r.name, Extent: r.ext, Want: r.want, Got: got}
				return n, r.err
			}
		}
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		r.err = formatErrorf("image ends inside block map range %s: %v", r.name, io.ErrUnexpectedEOF)
		return n, r.err
	}
	if err != nil {
		r.err = err
	}
	return n, err
}
