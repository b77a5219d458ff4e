//go:build !linux

package disk

func statDev(p string) (uint32, uint32, bool) { return 0, 0, false }

func rdev(p string) (uint32, uint32, bool) { return 0, 0, false }
