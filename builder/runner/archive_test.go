package runner

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The names apt gives its lists files (as seen in /var/lib/apt/lists of
// Debian and Raspberry Pi OS systems).
func TestListsName(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://deb.debian.org/debian/dists/trixie/InRelease", "deb.debian.org_debian_dists_trixie_InRelease"},
		{"http://deb.debian.org/debian-security/dists/trixie-security/InRelease", "deb.debian.org_debian-security_dists_trixie-security_InRelease"},
		{"https://archive.raspberrypi.com/debian/dists/trixie/InRelease", "archive.raspberrypi.com_debian_dists_trixie_InRelease"},
		{"http://user:secret@mirror.example/debian/dists/x/InRelease", "mirror.example_debian_dists_x_InRelease"},
		{"http://mirror.example/my_repo~1/./InRelease", "mirror.example_my%5frepo%7e1_._InRelease"},
		{"http://127.0.0.1:3142/debian/dists/trixie/InRelease", "127.0.0.1:3142_debian_dists_trixie_InRelease"},
		{"http://[::1]:3142/debian/dists/trixie/InRelease", "::1:3142_debian_dists_trixie_InRelease"},
		{"file:/srv/repo/./InRelease", "_srv_repo_._InRelease"},
	} {
		if got := listsName(c.url); got != c.want {
			t.Errorf("listsName(%q) = %q, want %q", c.url, got, c.want)
		}
	}
}

func TestParseSources(t *testing.T) {
	one := `# comment
deb http://deb.debian.org/debian trixie main contrib
deb-src http://deb.debian.org/debian trixie main
deb [arch=arm64 signed-by=/usr/share/keyrings/raspberrypi-archive-keyring.gpg] http://archive.raspberrypi.com/debian/ trixie main
deb [ trusted=yes ] file:/srv/repo ./
deb http://broken
deb [unterminated http://x y
`
	got := parseOneLineSources([]byte(one))
	want := []aptSource{
		{"http://deb.debian.org/debian", "trixie"},
		{"http://archive.raspberrypi.com/debian/", "trixie"},
		{"file:/srv/repo", "./"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("one-line = %+v", got)
	}
	deb822 := "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n \t\n" +
		"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: trixie-security\nComponents: main\n\n" +
		"# disabled\nTypes: deb\nURIs: http://off.example/\nSuites: x\nEnabled: no\n\n" +
		"Types: deb-src\nURIs: http://src.example/\nSuites: y\n\n" +
		"Types: deb\nURIs:\n http://a.example/\n http://b.example/\nSuites: z\n"
	got = parseDeb822Sources([]byte(deb822))
	want = []aptSource{
		{"http://deb.debian.org/debian", "trixie"},
		{"http://deb.debian.org/debian", "trixie-updates"},
		{"http://deb.debian.org/debian-security", "trixie-security"},
		{"http://a.example/", "z"},
		{"http://b.example/", "z"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deb822 = %+v", got)
	}
	for _, c := range []struct {
		src  aptSource
		want string
	}{
		{aptSource{"http://deb.debian.org/debian/", "trixie"}, "http://deb.debian.org/debian/dists/trixie/InRelease"},
		{aptSource{"file:/srv/repo", "./"}, "file:/srv/repo/./InRelease"},
		{aptSource{"http://x/repo", "sub/"}, "http://x/repo/sub/InRelease"},
		{aptSource{"http://x/repo", ""}, ""},
	} {
		if got := c.src.releaseURL(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.src, got, c.want)
		}
	}
}

// KeptReleases pairs each kept InRelease file with its source's URL (or
// the URL its apt name spells) and digests it; a file: source is checked
// by reading it, a changed one is seen.
func TestKeptReleasesAndCheck(t *testing.T) {
	fs, kept, repo := t.TempDir(), t.TempDir(), t.TempDir()
	mk := func(p, s string) { t.Helper(); writeFile(t, p, s) }
	mk(filepath.Join(repo, "InRelease"), "local v1")
	mk(filepath.Join(fs, "etc/apt/sources.list"), "deb file:"+repo+" ./\n")
	mk(filepath.Join(fs, "etc/apt/sources.list.d/debian.sources"), "Types: deb\nURIs: https://deb.debian.org/debian\nSuites: trixie\n")
	// apt's own names, written out
	localName := strings.ReplaceAll(repo, "/", "_") + "_._InRelease"
	mk(filepath.Join(kept, localName), "local v1")
	mk(filepath.Join(kept, "deb.debian.org_debian_dists_trixie_InRelease"), "debian")
	// a source the layers replaced after the install: only its name tells
	mk(filepath.Join(kept, "snapshot.debian.org_archive_debian_20261201T000000Z_dists_trixie_InRelease"), "snapshot")
	mk(filepath.Join(kept, "deb.debian.org_debian_dists_trixie_main_binary-arm64_Packages"), "not a release file")
	rels, err := KeptReleases(kept, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Release{
		{URL: "file:" + repo + "/./InRelease", SHA256: digest([]byte("local v1"))},
		{URL: "http://snapshot.debian.org/archive/debian/20261201T000000Z/dists/trixie/InRelease", SHA256: digest([]byte("snapshot"))},
		{URL: "https://deb.debian.org/debian/dists/trixie/InRelease", SHA256: digest([]byte("debian"))},
	}
	if !reflect.DeepEqual(rels, want) {
		t.Fatalf("releases = %+v\nwant %+v", rels, want)
	}
	checks := CheckReleases(context.Background(), rels[:1], nil)
	if checks[0].Err != nil || checks[0].Changed() {
		t.Errorf("unchanged local repo: %+v", checks[0])
	}
	mk(filepath.Join(repo, "InRelease"), "local v2")
	if c := CheckReleases(context.Background(), rels[:1], nil)[0]; !c.Changed() {
		t.Errorf("changed local repo not seen: %+v", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c := CheckReleases(ctx, []Release{{URL: "http://192.0.2.1/debian/dists/x/InRelease", SHA256: "aa"}}, nil)[0]; c.Err == nil || !errors.Is(c.Err, context.Canceled) || c.Changed() {
		t.Errorf("cancelled check: %+v", c)
	}
	if c := CheckReleases(context.Background(), []Release{{URL: "ftp://x/InRelease"}}, nil)[0]; c.Err == nil {
		t.Error("ftp source checked")
	}
	if rels, err := KeptReleases(t.TempDir(), t.TempDir()); err != nil || len(rels) != 0 {
		t.Errorf("nothing kept: %+v %v", rels, err)
	}
}

// The sources files come from a filesystem the layers wrote: no bytes
// may crash the parsers.
func FuzzAptSources(f *testing.F) {
	f.Add([]byte("deb [a=b] http://x/ y main\n"))
	f.Add([]byte("Types: deb\nURIs: http://x\n y\nSuites: a/\n\n"))
	f.Add([]byte("deb [\n\t:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range append(parseOneLineSources(b), parseDeb822Sources(b)...) {
			_ = listsName(s.releaseURL())
		}
	})
}

// A lists name read back gives the URL it was made from (http assumed).
func TestURLOfListsName(t *testing.T) {
	for _, u := range []string{
		"http://deb.debian.org/debian/dists/trixie/InRelease",
		"http://mirror.example/my_repo~1/./InRelease",
		"http://127.0.0.1:3142/debian/dists/trixie/InRelease",
		"file:/srv/repo/./InRelease",
	} {
		if got := urlOfListsName(listsName(u)); got != u {
			t.Errorf("%s → %s → %s", u, listsName(u), got)
		}
	}
}
