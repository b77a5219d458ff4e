package buildjob

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/manifest"
)

const raidConfig = `# a RAID1 set
device: {layer: rpi5, hostname: raid-device}
image:  {layer: raid, name: raid-test, rootfs_type: ext4}
raid:
  level: RAID1
  devices: 2
  sdcard_size: 100M
  external_size: 200M
layer:  {base: bookworm-minbase}
`

const rpiosConfig = `device: {layer: rpi5}
image: {layer: image-rpios, name: plain}
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func standIn(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../runner/testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func noEnv(string) string { return "" }

func TestEngineChoice(t *testing.T) {
	dir := t.TempDir()
	raid := writeFile(t, dir, "raid.yaml", raidConfig)
	rpios := writeFile(t, dir, "rpios.yaml", rpiosConfig)
	rota := writeFile(t, dir, "rota.yaml", "image: {layer: image-rota, name: ab}\n")
	tool := standIn(t)
	cases := []struct {
		name    string
		cfg     string
		stage   runner.Stage
		engine  Engine
		native  bool
		wantErr error
	}{
		{"raid auto is native", raid, runner.StageFull, EngineAuto, true, nil},
		{"raid tool refused", raid, runner.StageImage, EngineTool, false, ErrConfig},
		{"rpios auto uses the tool", rpios, runner.StageFull, EngineAuto, false, nil},
		{"rpios native", rpios, runner.StageImage, EngineNative, true, nil},
		{"rota native refused", rota, runner.StageImage, EngineNative, false, ErrConfig},
		{"filesystem stage has no hook", raid, runner.StageFilesystem, EngineAuto, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job, err := New(c.cfg, c.stage, Options{ToolDir: tool, Getenv: noEnv, WorkDir: filepath.Join(dir, "work"), Engine: c.engine})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err != nil {
				return
			}
			if got := job.NativeImage != nil; got != c.native {
				t.Errorf("native hook = %v, want %v", got, c.native)
			}
			if !filepath.IsAbs(job.Config) || job.ToolDir != tool {
				t.Errorf("job = %+v", job)
			}
		})
	}
}

func TestToolNeededExceptForNativeImageOnly(t *testing.T) {
	dir := t.TempDir()
	raid := writeFile(t, dir, "raid.yaml", raidConfig)
	missing := filepath.Join(dir, "nowhere")
	env := func(k string) string {
		if k == "HOME" {
			return dir
		}
		return ""
	}
	t.Setenv("PATH", dir)
	if _, err := New(raid, runner.StageFull, Options{ToolDir: missing, Getenv: env}); !errors.Is(err, runner.ErrToolNotFound) {
		t.Fatalf("full build without the tool: err = %v, want ErrToolNotFound", err)
	}
	job, err := New(raid, runner.StageImage, Options{ToolDir: missing, Getenv: env})
	if err != nil || job.NativeImage == nil {
		t.Fatalf("native image-only job without the tool: %v", err)
	}
}

func TestBadConfigIsAConfigError(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "image: [unclosed\n")
	if _, err := New(bad, runner.StageFull, Options{ToolDir: standIn(t)}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v, want ErrConfig", err)
	}
}

// TestFullRAIDBuild runs stage 1 with the stand-in tool and the image
// stage natively, and checks the set it leaves.
func TestFullRAIDBuild(t *testing.T) {
	for _, tool := range []string{"mke2fs", "mkfs.vfat", "mcopy", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs it)", tool)
		}
	}
	dir := t.TempDir()
	cfg := writeFile(t, dir, "raid.yaml", raidConfig)
	work := filepath.Join(dir, "work")
	var progress int
	job, err := New(cfg, runner.StageFull, Options{
		ToolDir: standIn(t), Getenv: noEnv, WorkDir: work,
		Progress: func(image.Progress) { progress++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := runner.Start(ctx, job, runner.Options{SkipChecks: []string{runner.CheckBinfmt, runner.CheckPrivileges, runner.CheckWorkDir}})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for ev := range r.Events() {
		if ev.Kind == runner.EventStageStarted {
			stages = append(stages, ev.Stage)
		}
	}
	res := r.Wait()
	if res.State != runner.Succeeded {
		t.Fatalf("state %v: %v (log %s)", res.State, res.Err, res.LogPath)
	}
	if len(stages) == 0 || stages[len(stages)-1] != runner.NativeImageStage {
		t.Errorf("stages = %v, want the native image stage last", stages)
	}
	if progress == 0 {
		t.Error("no native progress reported")
	}
	m, err := manifest.Read(filepath.Join(work, "image-raid-test"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Layout != manifest.LayoutRAID || m.Devices != 2 || m.Roles["sd"] == "" || m.Roles["external2"] == "" {
		t.Fatalf("manifest = %+v", m)
	}
	names := map[string]bool{}
	for _, a := range res.Artifacts {
		names[a.Name] = true
	}
	for _, want := range []string{"sdcard.img", "external1.img", "external2.img", "image.json"} {
		if !names[want] {
			t.Errorf("run artifacts lack %s: %v", want, names)
		}
	}
}

// TestJobNamesFirstboot records the first-boot reader the config's layers
// install in the job (and so in the run record).
func TestJobNamesFirstboot(t *testing.T) {
	dir := t.TempDir()
	with := writeFile(t, dir, "fb.yaml", "device: {layer: rpi5}\nimage: {layer: image-rpios, name: fb}\nlayer: {base: bookworm-minbase, firstboot: firstboot-cloudinit}\n")
	without := writeFile(t, dir, "plain.yaml", rpiosConfig)
	for cfg, want := range map[string]string{with: "cloudinit", without: "none"} {
		job, err := New(cfg, runner.StageFull, Options{ToolDir: standIn(t), Getenv: noEnv, WorkDir: filepath.Join(dir, "work")})
		if err != nil {
			t.Fatal(err)
		}
		if job.Firstboot != want {
			t.Errorf("%s: Firstboot = %q, want %q", filepath.Base(cfg), job.Firstboot, want)
		}
	}
}
