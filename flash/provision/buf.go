package provision

import "unsafe"

// alignedBuf returns n bytes aligned to 4096 in memory, as O_DIRECT reads need.
func alignedBuf(n int) []byte {
	b := make([]byte, n+4096)
	a := int(uintptr(unsafe.Pointer(&b[0])) & 4095)
	if a != 0 {
		a = 4096 - a
	}
	return b[a : a+n : a+n]
}
