package layers

import (
	"errors"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// A non-UTF-8 layer file is refused with line and column.
func TestLayerBadUTF8(t *testing.T) {
	_, err := ParseLayer("l.yaml", []byte("# METABEGIN\n# X-Env-Layer-Name: x\xfe\n# METAEND\n"))
	var pe *config.ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != 22 {
		t.Fatalf("err = %v, want l.yaml:2:22", err)
	}
}
