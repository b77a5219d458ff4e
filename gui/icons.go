package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Bus icons for the disk list; themed so they follow light and dark modes.
var (
	iconUSB   = theme.NewThemedResource(fyne.NewStaticResource("usb.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#000" d="M15 7v4h1v2h-3V5h2l-3-4-3 4h2v8H8v-2.07A1.99 1.99 0 0 0 7 7.25 2 2 0 0 0 6 11v2a2 2 0 0 0 2 2h3v3.05a2.5 2.5 0 1 0 2 0V15h3a2 2 0 0 0 2-2v-2h1V7z"/></svg>`)))
	iconSD    = theme.NewThemedResource(fyne.NewStaticResource("sdcard.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#000" d="M18 2h-8L4 8v12a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zm-6 6h-2V4h2zm3 0h-2V4h2zm3 0h-2V4h2z"/></svg>`)))
	iconDrive = theme.NewThemedResource(fyne.NewStaticResource("drive.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#000" d="M20 13H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h16a1 1 0 0 0 1-1v-6a1 1 0 0 0-1-1zM7 19a2 2 0 1 1 0-4 2 2 0 0 1 0 4zM20 3H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h16a1 1 0 0 0 1-1V4a1 1 0 0 0-1-1zM7 9a2 2 0 1 1 0-4 2 2 0 0 1 0 4z"/></svg>`)))
)

// busIcon picks the icon for a disk's bus.
func busIcon(bus string) fyne.Resource {
	switch bus {
	case "usb":
		return iconUSB
	case "mmc", "sd":
		return iconSD
	default:
		return iconDrive
	}
}
