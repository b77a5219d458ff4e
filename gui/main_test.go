package gui

import (
	"testing"

	"github.com/pistudio/pistudio/gui/internal/guitest"
)

// TestMain keeps Fyne's font cache and preferences inside a temporary
// directory removed after the tests.
func TestMain(m *testing.M) { guitest.Main(m) }
