package adapt

import (
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/provision"
)

// TestResultHash checks that a write names its SHA-256 when it was
// computed and its XXH3-128 otherwise, for one disk and for a RAID target.
func TestResultHash(t *testing.T) {
	for _, tc := range []struct {
		name         string
		xxh3, sha256 string
		want         string
	}{
		{"xxh3 only", "00112233445566778899aabbccddeeff", "", "xxh3:00112233445566778899aabbccddeeff"},
		{"sha256 too", "00112233445566778899aabbccddeeff", "ab12", "sha256:ab12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultHash(&flash.Result{XXH3: tc.xxh3, SHA256: tc.sha256}); got != tc.want {
				t.Errorf("flash: %q, want %q", got, tc.want)
			}
			r := provision.Result{XXH3: tc.xxh3, SHA256: tc.sha256}
			if got := r.Hash(); got != tc.want {
				t.Errorf("provision: %q, want %q", got, tc.want)
			}
		})
	}
}
