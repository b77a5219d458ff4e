// Command pkgtree lays out the desktop files of Pi Image Studio (the
// .desktop file, AppStream metainfo, hicolor icons and polkit policy)
// under a package's staging folder; `make deb` runs it.
//
//	go run ./assets/cmd/pkgtree -root dist/deb -prefix /usr -version 0.1.0 -date 2026-12-07
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pistudio/pistudio/assets"
)

func main() {
	root := flag.String("root", "", "staging `DIR` (the package's root)")
	prefix := flag.String("prefix", "/usr", "install `PREFIX` of the binary")
	version := flag.String("version", "0.1.0", "release `VERSION` for the metainfo")
	date := flag.String("date", time.Now().UTC().Format("2006-01-02"), "release `DATE` (YYYY-MM-DD)")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "pkgtree: -root DIR is required")
		os.Exit(2)
	}
	if err := assets.WriteDesktopFiles(*root, *prefix, *version, *date); err != nil {
		fmt.Fprintln(os.Stderr, "pkgtree:", err)
		os.Exit(1)
	}
}
