package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Release is the InRelease file of one apt source a root filesystem was
// built from, as apt fetched it during the build.
type Release struct {
	// URL is where apt fetches the source's InRelease.
	URL string `json:"url"`
	// SHA256 is the digest of the file apt used.
	SHA256 string `json:"sha256"`
}

// maxRelease bounds the InRelease bytes read from a mirror or a file
// (Debian's main InRelease is about 200 KB).
const maxRelease = 32 << 20

// ReleasesDir is where our bdebstrap cleanup hook
// (assets/layers/bdebstrap/cleanup00-pistudio-apt-releases.sh) keeps the
// InRelease files of a filesystem build before rpi-image-gen's cleanup
// removes apt's lists: <work>/chroot-<ver>/apt-releases.
func ReleasesDir(workDir, version string) string {
	return filepath.Join(workDir, "chroot-"+version, "apt-releases")
}

// KeptReleases returns the InRelease files apt fetched while building the
// filesystem fs, from dir (ReleasesDir) and from apt's own lists when
// the build kept them, sorted by URL. Each file's URL is that of the apt
// source (in the filesystem's sources) whose lists name it has, else the
// one its name spells (apt's names are reversible but for the scheme;
// http is assumed).
func KeptReleases(dir, fs string) ([]Release, error) {
	byName := map[string][]byte{}
	for _, d := range []string{filepath.Join(fs, "var/lib/apt/lists"), dir} {
		ents, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading the kept InRelease files: %w", err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || !(strings.HasSuffix(n, "_InRelease") || strings.HasSuffix(n, "_Release")) {
				continue
			}
			b, err := readLimited(filepath.Join(d, n))
			if err != nil {
				return nil, fmt.Errorf("reading the kept InRelease files: %w", err)
			}
			byName[n] = b
		}
	}
	srcs, err := aptSources(fs)
	if err != nil {
		return nil, err
	}
	known := map[string]string{}
	for _, s := range srcs {
		for _, u := range []string{s.releaseURL(), s.releaseURL("Release")} {
			if u != "" {
				known[listsName(u)] = u
			}
		}
	}
	out := make([]Release, 0, len(byName))
	for n, b := range byName {
		u, ok := known[n]
		if !ok {
			u = urlOfListsName(n)
		}
		out = append(out, Release{URL: u, SHA256: digest(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out, nil
}

// aptSources reads the filesystem's apt sources: etc/apt/sources.list,
// sources.list.d/*.list and *.sources.
func aptSources(fs string) ([]aptSource, error) {
	var srcs []aptSource
	one, err := os.ReadFile(filepath.Join(fs, "etc/apt/sources.list"))
	if err == nil {
		srcs = append(srcs, parseOneLineSources(one)...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading apt sources: %w", err)
	}
	d := filepath.Join(fs, "etc/apt/sources.list.d")
	ents, err := os.ReadDir(d)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading apt sources: %w", err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(d, e.Name()))
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(e.Name(), ".list"):
			srcs = append(srcs, parseOneLineSources(b)...)
		case strings.HasSuffix(e.Name(), ".sources"):
			srcs = append(srcs, parseDeb822Sources(b)...)
		}
	}
	return srcs, nil
}

// urlOfListsName turns an apt lists file name back into its URL: "_" is
// "/" (apt quotes a real "_" as %5f), %xx is a byte; a name starting with
// "_" is a file: path, any other an http URL.
func urlOfListsName(n string) string {
	p := strings.ReplaceAll(n, "_", "/")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	if strings.HasPrefix(p, "/") {
		return "file:" + p
	}
	return "http://" + p
}

// aptSource is one URI and suite of an apt source.
type aptSource struct{ uri, suite string }

// releaseURL is where apt fetches the source's InRelease (or the file
// named, e.g. "Release"), as apt's MetaIndexURI makes it: URI/dists/SUITE/
// for a suite, URI/SUITE for a flat repository (a suite ending in "/",
// "./" kept as apt keeps it).
func (s aptSource) releaseURL(file ...string) string {
	if s.uri == "" || s.suite == "" {
		return ""
	}
	name := "InRelease"
	if len(file) > 0 {
		name = file[0]
	}
	uri := strings.TrimSuffix(s.uri, "/") + "/"
	if strings.HasSuffix(s.suite, "/") {
		return uri + strings.TrimPrefix(s.suite, "/") + name
	}
	return uri + "dists/" + s.suite + "/" + name
}

// parseOneLineSources reads "deb [options] URI SUITE [COMPONENT...]"
// lines; comments and deb-src lines are skipped (deb-src shares the
// InRelease of its deb line).
func parseOneLineSources(b []byte) []aptSource {
	var out []aptSource
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{uri: f[0], suite: f[1]})
	}
	return out
}

// parseDeb822Sources reads deb822 .sources stanzas (Types, URIs, Suites,
// Enabled); a stanza of several URIs and suites names each pair.
func parseDeb822Sources(b []byte) []aptSource {
	var out []aptSource
	for _, st := range deb822Stanzas(string(b)) {
		fields := map[string]string{}
		key := ""
		for _, line := range strings.Split(st, "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if (line[0] == ' ' || line[0] == '\t') && key != "" {
				fields[key] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			key = strings.ToLower(strings.TrimSpace(k))
			fields[key] = strings.TrimSpace(v)
		}
		if strings.EqualFold(fields["enabled"], "no") || !containsWord(fields["types"], "deb") {
			continue
		}
		for _, u := range strings.Fields(fields["uris"]) {
			for _, s := range strings.Fields(fields["suites"]) {
				out = append(out, aptSource{uri: u, suite: s})
			}
		}
	}
	return out
}

// deb822Stanzas splits a deb822 file at its empty (or blank) lines.
func deb822Stanzas(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// listsName is the file name apt gives a downloaded URL in
// /var/lib/apt/lists (URItoFileName): no scheme, no user or password, no
// brackets around an IPv6 host, a few characters %-quoted, and "/" turned
// into "_" (a file: path keeps its leading one).
func listsName(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		host, rest, _ := strings.Cut(u, "/")
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		if strings.HasPrefix(host, "[") {
			if end := strings.Index(host, "]"); end > 0 {
				host = host[1:end] + host[end+1:]
			}
		}
		u = host + "/" + rest
	} else if i := strings.Index(u, ":"); i >= 0 {
		u = u[i+1:]
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '/':
			b.WriteByte('_')
		case strings.IndexByte("\\|{}[]<>\"^~_=!@#$%&*", c) >= 0 || c <= 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRelease))
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ReleaseCheck is what a check of one source's InRelease found.
type ReleaseCheck struct {
	Release
	// Now is the digest of the InRelease served now; "" when Err is set.
	Now string
	// Err is why the source could not be checked (offline, not found...).
	Err error
}

// Changed reports whether the source now serves another InRelease than
// the filesystem was built from.
func (c ReleaseCheck) Changed() bool { return c.Err == nil && c.SHA256 != "" && c.Now != c.SHA256 }

// releaseTimeout bounds each InRelease fetch.
const releaseTimeout = 8 * time.Second

// CheckReleases fetches every source's InRelease now, in parallel, each
// within a few seconds, and returns what each check found, in order.
// file: URLs are read from this machine.
func CheckReleases(ctx context.Context, rels []Release, client *http.Client) []ReleaseCheck {
	if client == nil {
		client = http.DefaultClient
	}
	out := make([]ReleaseCheck, len(rels))
	var wg sync.WaitGroup
	for i, rel := range rels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = ReleaseCheck{Release: rel}
			b, err := fetchRelease(ctx, client, rel.URL)
			if err != nil {
				out[i].Err = err
				return
			}
			out[i].Now = digest(b)
		}()
	}
	wg.Wait()
	return out
}

// fetchRelease reads one InRelease over http(s) or from a file: URL.
func fetchRelease(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	if p, ok := strings.CutPrefix(u, "file:"); ok {
		return readLimited(strings.TrimPrefix(p, "//"))
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, fmt.Errorf("%s: cannot check this kind of source", u)
	}
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRelease))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return b, nil
}
