package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStripANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[1m==> deploy\x1b[0m", "==> deploy"},
		{"\x1b[32m[SET]\x1b[0m IGconf_a=b\n", "[SET] IGconf_a=b"},
		{"a\r\n", "a"},
		{"Generating image... 0:01\rGenerating image... 0:02", "Generating image... 0:02"},
		{"\x1b]0;title\x07text", "text"},
		{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"\x1b(Bx", "x"},
		{"\x1b[?25l\x1b[2Kline", "line"},
		{"trailing\x1b", "trailing"},
	}
	for _, tc := range tests {
		if got := StripANSI(tc.in); got != tc.want {
			t.Errorf("StripANSI(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseStageHeader(t *testing.T) {
	tests := []struct {
		in   string
		name string
		ok   bool
	}{
		{"\x1b[1m==> parameter_assembly\x1b[0m", "parameter_assembly", true},
		{"==> generate_images", "generate_images", true},
		{"  ==> deploy  ", "deploy", true},
		{"==> ", "", false},
		{"==> two words", "", false},
		{"x ==> deploy", "", false},
		{"PARAM", "", false},
	}
	for _, tc := range tests {
		name, ok := ParseStageHeader(tc.in)
		if name != tc.name || ok != tc.ok {
			t.Errorf("ParseStageHeader(%q) = %q %v", tc.in, name, ok)
		}
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		line string
		want string // substring; empty means not explained
	}{
		{"curl: (6) Could not resolve host: github.com", "GitHub"},
		{"E: Failed to fetch http://archive.raspberrypi.com/debian/dists/trixie/InRelease  Could not resolve 'archive.raspberrypi.com'", "Raspberry Pi apt archive"},
		{"W: Failed to fetch ... Could not resolve 'deb.debian.org'", "deb.debian.org"},
		{"Error: genimage error (/work/image-x/genimage.cfg)", "partition too small"},
		{"ERROR: vfat(boot.vfat): no space left", "boot.vfat"},
		{"Error: Stage 'generate_filesystem' failed", "generate_filesystem"},
		{"Error: Config parse failed", "Config parse failed"},
		{"Error: Overrides must be provided as key=value pairs.", "KEY=VALUE"},
		{"Required dependencies (all) not installed", "install_deps.sh"},
		{"[SET] IGconf_image_name=x", ""},
		{"Error: [IG_ENABLE_HOST_BDEBSTRAP=y IGconf_device_layer=rpi5 IGconf_sys_workroot=/w] (2)", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := Explain(tc.line)
		if ok != (tc.want != "") || !strings.Contains(got, tc.want) {
			t.Errorf("Explain(%q) = %q, %v; want %q", tc.line, got, ok, tc.want)
		}
	}
}

func TestToolEnv(t *testing.T) {
	got := ToolEnv([]string{"A=1", "IGconf_x=y", "PATH=/home/u/.pyenv/shims:/bin:/usr/local/bin::", "IGconf_=z", "B=IGconf_q"})
	want := []string{"A=1", "B=IGconf_q", "PATH=/usr/sbin:/usr/bin:/sbin:/bin:/home/u/.pyenv/shims:/usr/local/bin"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToolEnv = %q, want %q", got, want)
	}
	if got := ToolEnv(nil); !reflect.DeepEqual(got, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}) {
		t.Errorf("ToolEnv(nil) = %q", got)
	}
}

func TestValidateOverride(t *testing.T) {
	for _, ok := range []string{"A=b", "IGconf_image_name=x y", "_x=", "a1=$(x)"} {
		if err := ValidateOverride(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-f", "=x", "1a=b", "a.b=c", "a b=c", "a=b\nc=d", "--"} {
		if err := ValidateOverride(bad); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestArgv(t *testing.T) {
	job := Job{Config: "/c/x.yaml", ToolDir: "/t", WorkDir: "/w", Overrides: []string{"A=b"}}
	tests := []struct {
		stage  Stage
		hook   bool
		ver    string
		extraO []string
		want   string
	}{
		{StageFull, false, "v1", nil, "/t/rpi-image-gen build -c /c/x.yaml -S /s -B /w -- IGconf_artefact_version=v1 A=b"},
		{StageFilesystem, false, "v1", nil, "/t/rpi-image-gen build -c /c/x.yaml -S /s -B /w -f -- IGconf_artefact_version=v1 A=b"},
		{StageImage, false, "v1", nil, "/t/rpi-image-gen build -c /c/x.yaml -S /s -B /w -i -- IGconf_artefact_version=v1 A=b"},
		{StageFull, true, "v1", nil, "/t/rpi-image-gen build -c /c/x.yaml -S /s -B /w -f -- IGconf_artefact_version=v1 A=b"},
		{StageClean, false, "v1", nil, "/t/rpi-image-gen clean -c /c/x.yaml -S /s -B /w -- IGconf_artefact_version=v1 A=b"},
		{StageFull, false, "v1", []string{"IGconf_artefact_version=mine"}, "/t/rpi-image-gen build -c /c/x.yaml -S /s -B /w -- A=b IGconf_artefact_version=mine"},
	}
	for _, tc := range tests {
		j := job
		j.Stage = tc.stage
		j.Overrides = append(append([]string(nil), job.Overrides...), tc.extraO...)
		if tc.hook {
			j.NativeImage = func(context.Context, NativeDirs, func(string)) ([]Artifact, error) { return nil, nil }
		}
		got, err := Argv(j, "/s", tc.ver)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%v hook=%v: %q %v\nwant %s", tc.stage, tc.hook, got, err, tc.want)
		}
	}
}

func TestPreflight(t *testing.T) {
	tool := toolDir(t)
	binfmt := t.TempDir()
	enabled := t.TempDir()
	if err := os.WriteFile(filepath.Join(enabled, "qemu-aarch64"), []byte("enabled\ninterpreter /usr/bin/qemu-aarch64-static\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	disabled := t.TempDir()
	if err := os.WriteFile(filepath.Join(disabled, "qemu-aarch64"), []byte("disabled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noPodman := func(string) (string, error) { return "", errors.New("not found") }
	podman := func(string) (string, error) { return "/usr/bin/podman", nil }
	root := func() int { return 0 }
	user := func() int { return 1000 }
	plenty := func(string) (uint64, error) { return 100 << 30, nil }
	little := func(string) (uint64, error) { return 1 << 30, nil }
	tests := []struct {
		name    string
		tool    string
		host    Host
		check   string
		ok      bool
		warning bool
		fix     string
	}{
		{"tool ok", tool, Host{}, CheckTool, true, false, ""},
		{"tool missing", t.TempDir(), Host{}, CheckTool, false, false, "git clone"},
		{"binfmt missing", tool, Host{Arch: "amd64", BinfmtDir: binfmt}, CheckBinfmt, false, false, "install qemu-user-static binfmt-support"},
		{"binfmt disabled", tool, Host{Arch: "amd64", BinfmtDir: disabled}, CheckBinfmt, false, false, "echo 1"},
		{"binfmt enabled", tool, Host{Arch: "amd64", BinfmtDir: enabled}, CheckBinfmt, true, false, ""},
		{"arm64 needs no binfmt", tool, Host{Arch: "arm64", BinfmtDir: binfmt}, CheckBinfmt, true, false, ""},
		{"root", tool, Host{Euid: root, LookPath: noPodman}, CheckPrivileges, true, false, ""},
		{"podman", tool, Host{Euid: user, LookPath: podman}, CheckPrivileges, true, false, ""},
		{"neither", tool, Host{Euid: user, LookPath: noPodman}, CheckPrivileges, false, false, "podman"},
		{"space ok", tool, Host{FreeSpace: plenty}, CheckWorkDir, true, false, ""},
		{"space low", tool, Host{FreeSpace: little}, CheckWorkDir, true, true, "free space"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := Job{ToolDir: tc.tool, WorkDir: filepath.Join(t.TempDir(), "new", "work")}
			var c *Check
			for _, x := range Preflight(job, tc.host) {
				if x.Name == tc.check {
					x := x
					c = &x
				}
			}
			if c == nil {
				t.Fatalf("no %s check", tc.check)
			}
			if c.OK != tc.ok || c.Warning != tc.warning || !strings.Contains(c.Fix, tc.fix) || c.Msg == "" {
				t.Errorf("check = %+v", *c)
			}
		})
	}
	if got := Preflight(Job{ToolDir: tool, WorkDir: t.TempDir()}, Host{}, CheckTool, CheckBinfmt, CheckPrivileges, CheckWorkDir); len(got) != 0 {
		t.Errorf("skipped checks ran: %+v", got)
	}
	// Start refuses on a failing check and lists the fix.
	job := newJob(t, StageFilesystem, "")
	opts := Options{Host: Host{Arch: "amd64", BinfmtDir: binfmt, Euid: root, FreeSpace: plenty}}
	_, err := Start(context.Background(), job, opts)
	if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "qemu-user-static binfmt-support") {
		t.Errorf("Start with failing binfmt: %v", err)
	}
	opts.SkipChecks = []string{CheckBinfmt}
	opts.Host.FreeSpace = little
	opts.Environ = testEnv()
	r, err := Start(context.Background(), job, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := r.Wait()
	if res.State != Succeeded {
		t.Fatal(res.Err)
	}
	if b, _ := os.ReadFile(res.LogPath); !strings.Contains(string(b), "[pistudio] warning: work dir") {
		t.Errorf("space warning not logged")
	}
}

func TestClassifyArtifact(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want ArtifactKind
	}{
		{"x.img", nil, KindDiskImage},
		{"x.img.sparse", nil, KindSparse},
		{"x.img", sparseMagic, KindSparse},
		{"boot.vfat", nil, KindPartition},
		{"root.ext4", nil, KindPartition},
		{"root.btrfs", nil, KindPartition},
		{"image.json", nil, KindMetadata},
		{"genimage.cfg", nil, KindMetadata},
		{"img_uuids", nil, KindMetadata},
		{"random.bin", nil, KindOther},
	}
	for _, tc := range tests {
		if got := ClassifyArtifact(tc.name, tc.head); got != tc.want {
			t.Errorf("ClassifyArtifact(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestSubscriptionDropsOldestLogLines(t *testing.T) {
	s := newSubscription(3)
	s.push(Event{Kind: EventStageStarted, Stage: "a"})
	for i := 0; i < 10; i++ {
		s.push(Event{Kind: EventLog, Text: string(rune('0' + i))})
	}
	s.push(Event{Kind: EventStageFinished, Stage: "a"})
	s.finish()
	var got []string
	for {
		e, ok := s.Next(context.Background())
		if !ok {
			break
		}
		switch e.Kind {
		case EventDropped:
			got = append(got, "dropped:"+string(rune('0'+e.Dropped)))
		case EventLog:
			got = append(got, e.Text)
		default:
			got = append(got, e.Kind.String()+":"+e.Stage)
		}
	}
	want := []string{"dropped:7", "stage-started:a", "7", "8", "9", "stage-finished:a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// a closed subscription returns at once
	s2 := newSubscription(1)
	s2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, ok := s2.Next(ctx); ok || ctx.Err() != nil {
		t.Error("Next on a closed subscription")
	}
}

func TestHistoryEmptyAndBroken(t *testing.T) {
	dir := t.TempDir()
	if h, err := History(dir); err != nil || len(h) != 0 {
		t.Errorf("empty: %v %v", h, err)
	}
	if err := os.MkdirAll(LogDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(LogDir(dir), "x.json"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h, err := History(dir); err != nil || len(h) != 0 {
		t.Errorf("broken: %v %v", h, err)
	}
}

func FuzzStripANSI(f *testing.F) {
	for _, s := range []string{"", "\x1b[1m==> x\x1b[0m", "\x1b]0;t\x07a", "\x1b", "a\rb\r", "\x1b\x1b[31m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := StripANSI(s)
		if strings.ContainsAny(out, "\x1b\r") {
			t.Errorf("StripANSI(%q) = %q keeps ESC or CR", s, out)
		}
		if len(out) > len(s) {
			t.Errorf("output longer than input")
		}
	})
}

func FuzzParseStageHeader(f *testing.F) {
	for _, s := range []string{"\x1b[1m==> deploy\x1b[0m", "==> ", "==> a b", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ok := ParseStageHeader(s)
		if ok && (name == "" || strings.ContainsAny(name, " \t\x1b")) {
			t.Errorf("ParseStageHeader(%q) = %q", s, name)
		}
		if !ok && name != "" {
			t.Errorf("name without ok")
		}
	})
}

func FuzzExplain(f *testing.F) {
	for _, s := range []string{"curl: (6) Could not resolve host: github.com", "Error: x", "ERROR: vfat(a): b", "genimage error ("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ex, ok := Explain(s); ok && ex == "" {
			t.Errorf("empty explanation for %q", s)
		}
	})
}

// TestSubscriptionStaysBoundedWhenNotRead: a consumer that stops reading
// costs a bounded queue however many lines are dropped, and still gets
// the newest lines, in order, and the count of the dropped ones.
func TestSubscriptionStaysBoundedWhenNotRead(t *testing.T) {
	const n, lines = 100, 100000
	s := newSubscription(n)
	s.push(Event{Kind: EventStageStarted, Stage: "a"})
	for i := 0; i < lines; i++ {
		s.push(Event{Kind: EventLog, Text: strconv.Itoa(i)})
		if l := len(s.q) - s.head; l > 2*n+2 {
			t.Fatalf("after %d lines the queue holds %d entries (buffer %d)", i+1, l, n)
		}
	}
	s.push(Event{Kind: EventStageFinished, Stage: "a"})
	s.finish()
	var got []string
	dropped := 0
	for {
		e, ok := s.Next(context.Background())
		if !ok {
			break
		}
		switch e.Kind {
		case EventDropped:
			dropped += e.Dropped
		case EventLog:
			got = append(got, e.Text)
		default:
			got = append(got, e.Kind.String()+":"+e.Stage)
		}
	}
	if dropped != lines-n {
		t.Errorf("dropped %d, want %d", dropped, lines-n)
	}
	if len(got) != n+2 || got[0] != "stage-started:a" || got[1] != strconv.Itoa(lines-n) || got[n] != strconv.Itoa(lines-1) || got[n+1] != "stage-finished:a" {
		t.Errorf("got %d events: %v ... %v", len(got), got[:min(3, len(got))], got[max(0, len(got)-2):])
	}
}

// BenchmarkSubscriptionPush is the cost of one log line to a subscriber
// that does not read (the dropping path).
func BenchmarkSubscriptionPush(b *testing.B) {
	s := newSubscription(10000)
	e := Event{Kind: EventLog, Text: "Get:1 http://deb.debian.org/debian bookworm/main arm64 libc6"}
	for b.Loop() {
		s.push(e)
	}
}
