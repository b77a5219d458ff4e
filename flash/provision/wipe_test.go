package provision

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSignatureRegions(t *testing.T) {
	// A 100 MiB + 12345-byte disk: offsets as the md driver computes them.
	size := 100*mib + 12345
	got := map[string]int64{}
	for _, r := range SignatureRegions(size) {
		got[r.Name] = r.Offset
	}
	want := map[string]int64{
		"md v1.1 superblock":                   0,
		"md v1.2 superblock":                   4096,
		"md v0.90 superblock":                  100*mib - 64<<10,             // (size & ~64K) - 64K
		"md v1.0 superblock":                   ((size/512 - 16) &^ 7) * 512, // 8 KiB before the 4 KiB-aligned end
		"GPT backup header (512-byte sectors)": size - 512,
		"GPT backup header (4 KiB sectors)":    size - 4096,
		"last MiB":                             size - mib,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s at %d, want %d", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("regions %v", got)
	}
	if n := len(SignatureRegions(2048)); n != 2 { // v1.1 does not fit, GPT 512 and the tail do
		t.Errorf("tiny disk: %d regions", n)
	}
}

func plant(b []byte, off int64, magic []byte) { copy(b[off:], magic) }

func TestCheckClean(t *testing.T) {
	size := 12 * mib
	md := binary.LittleEndian.AppendUint32(nil, mdMagic)
	regions := map[string]Region{}
	for _, r := range SignatureRegions(size) {
		regions[r.Name] = r
	}
	for _, tc := range []struct {
		name      string
		imageSize int64
		prep      func(b []byte)
		want      string // region name, "" for clean
	}{
		{"clean", 8 * mib, func(b []byte) {}, ""},
		{"md 1.0 past the image", 8 * mib, func(b []byte) { plant(b, regions["md v1.0 superblock"].Offset, md) }, "md v1.0 superblock"},
		{"md 0.90 past the image", 8 * mib, func(b []byte) { plant(b, regions["md v0.90 superblock"].Offset, md) }, "md v0.90 superblock"},
		{"gpt backup", 8 * mib, func(b []byte) { plant(b, size-512, gptSignature) }, "GPT backup header (512-byte sectors)"},
		{"gpt backup 4k", 8 * mib, func(b []byte) { plant(b, size-4096, gptSignature) }, "GPT backup header (4 KiB sectors)"},
		{"junk in the tail", 8 * mib, func(b []byte) { b[size-mib+7] = 1 }, "last MiB"},
		{"md 1.2 inside the image is the image's business", 8 * mib, func(b []byte) { plant(b, 4096, md) }, ""},
		{"tail inside an image that reaches it", size - 1000, func(b []byte) { b[size-2000] = 9 }, ""},
		{"tail past an image that reaches into it", size - 1000, func(b []byte) { b[size-10] = 9 }, "last MiB"},
		{"md 1.2 past a tiny image", 100, func(b []byte) { plant(b, 4096, md) }, "md v1.2 superblock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, size)
			tc.prep(b)
			err := CheckClean(bytes.NewReader(b), size, tc.imageSize)
			var se *StaleError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected %v", err)
			case tc.want != "" && (!errors.As(err, &se) || se.Region.Name != tc.want):
				t.Errorf("got %v, want a stale %s", err, tc.want)
			}
		})
	}
	if err := CheckClean(bytes.NewReader(make([]byte, mib)), 2*mib, 0); err == nil {
		t.Error("a short read passed")
	}
}

// FuzzCheckClean feeds arbitrary disk contents (untrusted bytes read from
// a target): CheckClean must not panic, and must report clean exactly
// when no signature lies past the image.
func FuzzCheckClean(f *testing.F) {
	f.Add([]byte{}, int64(0))
	f.Add(make([]byte, 70000), int64(4096))
	f.Add(append(make([]byte, 8192), gptSignature...), int64(100))
	f.Fuzz(func(t *testing.T, data []byte, imageSize int64) {
		size := int64(len(data))
		err := CheckClean(bytes.NewReader(data), size, imageSize)
		var se *StaleError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %v", err)
		}
		if se != nil && (se.Offset < 0 || se.Offset >= size || se.Offset < min(imageSize, se.Region.Offset)) {
			t.Fatalf("stale at %d of %d (image %d)", se.Offset, size, imageSize)
		}
		if err == nil {
			for _, r := range SignatureRegions(size) {
				if r.Offset >= imageSize && r.Magic != nil && bytes.HasPrefix(data[r.Offset:], r.Magic) {
					t.Fatalf("missed %s", r.Name)
				}
			}
		}
	})
}
