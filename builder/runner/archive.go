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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Release is the InRelease file of one apt source a root filesystem was
// built from, as apt kept it in the filesystem (or as fetched right after
// the build when apt's lists were cleaned).
type Release struct {
	// URL is where apt fetches the source's InRelease.
	URL string `json:"url"`
	// SHA256 is the digest of that file; "" when it was not known.
	SHA256 string `json:"sha256,omitempty"`
}

// maxRelease bounds the InRelease bytes read from a mirror or a file
// (Debian's main InRelease is about 200 KB).
const maxRelease = 32 << 20

// AptReleases lists the InRelease URL of every apt source the root
// filesystem at fs names (etc/apt/sources.list, sources.list.d/*.list
// and *.sources), with the digest of apt's copy in var/lib/apt/lists
// when apt kept one. The result is sorted by URL, without duplicates.
func AptReleases(fs string) ([]Release, error) {
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
	seen := map[string]bool{}
	var out []Release
	for _, s := range srcs {
		u := s.releaseURL()
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		rel := Release{URL: u}
		if b, err := readLimited(filepath.Join(fs, "var/lib/apt/lists", listsName(u))); err == nil {
			rel.SHA256 = digest(b)
		}
		out = append(out, rel)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out, nil
}

// aptSource is one URI and suite of an apt source.
type aptSource struct{ uri, suite string }

// releaseURL is where apt fetches the source's InRelease: URI/dists/SUITE/
// for a suite, URI/SUITE for a flat repository (a suite ending in "/").
func (s aptSource) releaseURL() string {
	if s.uri == "" || s.suite == "" {
		return ""
	}
	uri := strings.TrimSuffix(s.uri, "/")
	if strings.HasSuffix(s.suite, "/") {
		p := strings.TrimPrefix(s.suite, "./")
		if p == "" || p == "/" {
			return uri + "/InRelease"
		}
		return uri + "/" + strings.TrimPrefix(p, "/") + "InRelease"
	}
	return uri + "/dists/" + s.suite + "/InRelease"
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
	for _, st := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
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

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// listsName is the file name apt gives a downloaded URL in
// /var/lib/apt/lists (URItoFileName): no scheme and no user or password,
// a few characters %-quoted, and "/" turned into "_".
func listsName(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	} else if i := strings.Index(u, ":"); i >= 0 {
		u = u[i+1:]
	}
	if host, rest, ok := strings.Cut(u, "/"); ok {
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		u = host + "/" + rest
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
	return strings.TrimLeft(b.String(), "_")
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
