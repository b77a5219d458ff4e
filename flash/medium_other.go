//go:build !linux

package flash

import "path/filepath"

// mediumKey compares cleaned paths where device numbers are not read.
func mediumKey(path string) (string, error) { return "path:" + filepath.Clean(path), nil }
