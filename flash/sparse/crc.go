package sparse

import (
	"encoding/binary"
	"hash/crc32"
)

// The CRC32 of a sparse image counts DONT_CARE ranges as zeros and FILL
// ranges as the repeated pattern. Both can be gigabytes long, so they are
// folded into the running CRC with the GF(2) operator for "append n bytes"
// (the method of zlib's crc32_combine) in O(log n) instead of hashing them.

// gf2Times multiplies the 32x32 GF(2) matrix mat by vec.
func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// shiftZeros applies to the raw CRC register the effect of n zero bytes.
func shiftZeros(reg uint32, n int64) uint32 {
	if n <= 0 {
		return reg
	}
	var even, odd [32]uint32
	odd[0] = 0xedb88320 // reflected IEEE polynomial
	row := uint32(1)
	for i := 1; i < 32; i++ {
		odd[i] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd)
		if n&1 != 0 {
			reg = gf2Times(&even, reg)
		}
		n >>= 1
		if n == 0 {
			break
		}
		gf2Square(&odd, &even)
		if n&1 != 0 {
			reg = gf2Times(&odd, reg)
		}
		n >>= 1
		if n == 0 {
			break
		}
	}
	return reg
}

// crcCombine returns the CRC32 of A||B from crc(A), crc(B) and len(B).
func crcCombine(crcA, crcB uint32, lenB int64) uint32 {
	return shiftZeros(crcA, lenB) ^ crcB
}

// crcZeros extends crc by n zero bytes.
func crcZeros(crc uint32, n int64) uint32 {
	return ^shiftZeros(^crc, n)
}

// crcRepeat extends crc by the 4-byte little-endian pattern v repeated count times.
func crcRepeat(crc, v uint32, count int64) uint32 {
	if v == 0 {
		return crcZeros(crc, 4*count)
	}
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], v)
	unit := crc32.ChecksumIEEE(p[:])
	unitLen := int64(4)
	for count > 0 {
		if count&1 != 0 {
			crc = crcCombine(crc, unit, unitLen)
		}
		count >>= 1
		if count > 0 {
			unit = crcCombine(unit, unit, unitLen)
			unitLen *= 2
		}
	}
	return crc
}
