package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/sparse"
)

// sizes of one run, from BENCH_SCALE.
type sizes struct {
	raw, rawData   int64 // a–c: the 2 GiB image with 600 MiB of data
	big, bigData   int64 // g: the 4 GiB image
	rootfs         int64 // d, e: the root filesystem tree
	external, sd   int64 // d: RAID member and SD card images
	external8      int64 // e: the RAID1 2 × 8 GiB set
	lines          int   // f
	rootPart, boot int64 // e: image-rpios partition sizes
}

func scaled(s float64) sizes {
	f := func(n int64, align int64) int64 { return max(align, int64(float64(n)*s)/align*align) }
	z := sizes{
		raw: f(2<<30, 4<<20), rawData: f(600<<20, 64<<10),
		big: f(4<<30, 4<<20), bigData: f(1200<<20, 64<<10),
		rootfs: f(300<<20, 1<<20), sd: 256 << 20,
		external8: f(8<<30, 8<<20), lines: int(max(10000, float64(1_000_000)*s)),
		boot: 256 << 20,
	}
	z.external = max(f(1<<30, 8<<20), 320<<20)
	z.rootPart = max((z.rootfs*2+(8<<20)-1)&^(8<<20-1), 64<<20)
	z.external8 = max(z.external8, z.external)
	return z
}

// inputs are the generated files.
type inputs struct {
	sz                    sizes
	raw, sparse, xz, zst  string
	bmapDir, bmap, bmapIm string
	i2s, gsparse          string // $RAW as img2simg and genimage make it sparse
	big                   string
	rootfs                string
	lines, lines10        string
	rpiosCfg, genimageCfg string
	raidCfg, raid8Cfg     string
}

func (b *bench) runAll() error {
	z := scaled(b.cfg.scale)
	in := &inputs{sz: z}
	b.logf("scale %g: raw image %s with %s of data; rootfs %s; inputs in %s", b.cfg.scale, mb(z.raw), mb(z.rawData), mb(z.rootfs), b.data)
	steps := []struct {
		group string
		run   func(*inputs) error
	}{
		{"a", b.groupRaw}, {"b", b.groupSparse}, {"c", b.groupCompressed}, {"d", b.groupRAID},
		{"e", b.groupImage}, {"f", b.groupLog}, {"g", b.groupRSS}, {"h", b.groupMany}, {"go", b.groupGo},
	}
	for _, s := range steps {
		if !b.cfg.want(s.group) {
			continue
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
		t := time.Now()
		if err := s.run(in); err != nil {
			return fmt.Errorf("group %s: %w", s.group, err)
		}
		b.logf("group %s done in %s", s.group, time.Since(t).Round(time.Second))
	}
	return nil
}

// ---- inputs ----

func (b *bench) needRaw(in *inputs) error {
	if in.raw != "" {
		return nil
	}
	p := filepath.Join(b.data, "raw.img")
	if _, err := os.Stat(p); err != nil {
		b.logf("generating %s (%s, %s of data)", p, mb(in.sz.raw), mb(in.sz.rawData))
	}
	if err := genImage(p, in.sz.raw, in.sz.rawData, 1); err != nil {
		return err
	}
	in.raw = p
	b.variable("RAW", fmt.Sprintf("raw image, %s with %s of data (random, text-like and zero blocks) in extents between holes", mb(in.sz.raw), mb(in.sz.rawData)))
	return nil
}

func (b *bench) needSparse(in *inputs) error {
	if err := b.needRaw(in); err != nil {
		return err
	}
	p := in.raw + ".sparse"
	if _, err := os.Stat(p); err != nil {
		b.logf("writing %s with flash/sparse", p)
		src, err := os.Open(in.raw)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.Create(p + ".tmp")
		if err != nil {
			return err
		}
		if err := sparse.WriteFile(dst, src, sparse.WriteOptions{CRC: true}); err != nil {
			dst.Close()
			return err
		}
		if err := dst.Close(); err != nil {
			return err
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return err
		}
	}
	in.sparse = p
	b.variable("SPARSE", "$RAW as an Android sparse image written by flash/sparse (holes as DONT_CARE, trailing CRC32 chunk: genimage style)")
	// bmaptool's block map, in a directory of its own: a map beside
	// $RAW would make pistudio use it for the raw case too.
	in.bmapDir = filepath.Join(b.data, "bmap")
	in.bmapIm = filepath.Join(in.bmapDir, "raw.img")
	in.bmap = in.bmapIm + ".bmap"
	if _, err := os.Stat(in.bmap); err != nil {
		os.MkdirAll(in.bmapDir, 0o755)
		os.Remove(in.bmapIm)
		if err := os.Link(in.raw, in.bmapIm); err != nil {
			return err
		}
		r := b.add(&row{group: "b", name: "bmaptool create (preparation, once)", cmds: []string{"bmaptool create -o $BMAP $BRAW"}, bytes: in.sz.raw})
		res, err := b.shell(r.cmds[0], map[string]string{"BMAP": in.bmap, "BRAW": in.bmapIm})
		if err != nil {
			return err
		}
		r.times = append(r.times, res.dur)
	}
	b.variable("BRAW", "a hard link to $RAW in a directory of its own")
	b.variable("BMAP", "`bmaptool create` block map of $BRAW, beside it")
	return nil
}

// ---- pistudio runs ----

// flashRun is what a `pistudio flash --json` run reports.
type flashRun struct {
	result
	res *flash.Result
}

func (b *bench) pistudioFlash(image, dev string) (flashRun, error) {
	if !b.loops.owns(dev) {
		return flashRun{}, fmt.Errorf("refusing to flash %s: not a loop device this bench attached", dev)
	}
	args := append(strings.Fields(b.cfg.pistudio)[1:], "flash", image, dev, "--yes", "--json")
	c := exec.CommandContext(b.ctx, strings.Fields(b.cfg.pistudio)[0], args...)
	res, err := b.run(c, "pistudio flash "+image+" "+dev)
	if err != nil {
		return flashRun{}, err
	}
	fr := flashRun{result: res}
	for _, l := range bytes.Split(res.stdout, []byte("\n")) {
		var ev struct {
			Type   string        `json:"type"`
			Result *flash.Result `json:"result"`
			Error  string        `json:"error"`
		}
		if json.Unmarshal(l, &ev) == nil && ev.Type == "result" && ev.Result != nil {
			fr.res = ev.Result
		}
		if ev.Type == "error" {
			return fr, fmt.Errorf("pistudio flash: %s", ev.Error)
		}
	}
	if fr.res == nil {
		return fr, errors.New("pistudio flash printed no result")
	}
	if !fr.res.Verified {
		return fr, errors.New("pistudio flash did not verify")
	}
	return fr, nil
}

const pistudioFlashCmd = "$PISTUDIO flash %s $LOOP --yes --json"

// timedFlash runs `pistudio flash IMG` onto a loop device of size bytes,
// adds its time and peak RSS to r, and returns the writer's result (for
// the times of its phases).
func (b *bench) timedFlash(r *row, img string, size int64) (*flash.Result, error) {
	var res *flash.Result
	err := b.onFresh(size, func(dev string) error {
		fr, err := b.pistudioFlash(img, dev)
		if err != nil {
			return err
		}
		r.record(fr.result)
		res = fr.res
		return nil
	})
	return res, err
}

// timedShell runs r's commands one after the other and adds the sum of
// their times to r.
func (b *bench) timedShell(r *row, vars map[string]string) error {
	var total time.Duration
	for _, c := range r.cmds {
		res, err := b.shell(c, vars)
		if err != nil {
			return err
		}
		total += res.dur
	}
	r.times = append(r.times, total)
	return nil
}

func (b *bench) notePistudio() {
	b.variable("PISTUDIO", "the pistudio binary under test ("+b.cfg.pistudio+")")
	b.variable("LOOP", "a loop device (`losetup -f --show FILE`), attached for each run, on a backing file of the image's size in $BENCH_DIR, written full of zeros once and overwritten by every run (removed at the end)")
}

// onFresh runs f on a fresh loop device of size bytes.
func (b *bench) onFresh(size int64, f func(dev string) error) error {
	dev, release, err := b.target("t", size)
	if err != nil {
		return err
	}
	defer release()
	return f(dev)
}

// benchDesc says what this program's modes used in the commands do.
const benchDesc = "this program (bench/), in one of its modes: `decode IMAGE` opens the image with flash/source and reads every data range as the writer's decoder does; " +
	"`emit FILE RATE` is a stand-in build tool printing FILE flat out (RATE 0) or paced at RATE lines/s and writing its own running time to $BENCH_CHILD_NS; " +
	"`logpipe FILE RATE keep|slow DIR` runs the build runner (builder/runner.Start) on a tool script that execs `emit`, with a consumer keeping the last 20 000 lines (slow: it sleeps 1 ms every 20 lines); " +
	"`raidwrite CG SCRATCH DEV=IMAGE…` joins the blkio cgroup CG and runs one flash.Write per target; " +
	"`multiwrite CG SCRATCH IMAGE DEV…` joins CG and writes IMAGE to every DEV with one decode (flash.WriteMany); " +
	"`provision CG SCRATCH SET ROLE=DEV…` joins CG and writes the set with flash/provision (Propose, Assign, Run with SkipHoles)"

// ---- a: raw ----

func (b *bench) groupRaw(in *inputs) error {
	if err := b.needRaw(in); err != nil {
		return err
	}
	b.notePistudio()
	b.variable("COUNT", "the image size in 4 MiB blocks")
	b.variable("SIZE", "the image size in bytes")
	warm(in.raw)
	vars := func(dev string) map[string]string {
		return map[string]string{"RAW": in.raw, "LOOP": dev, "COUNT": fmt.Sprint(in.sz.raw / (4 << 20)), "SIZE": fmt.Sprint(in.sz.raw)}
	}
	dd := b.add(&row{group: "a", name: "dd (no verification)", short: "dd", bytes: in.sz.raw,
		cmds: []string{"dd if=$RAW of=$LOOP bs=4M oflag=direct conv=fsync status=none"}})
	ddcmp := b.add(&row{group: "a", name: "dd + cmp read-back (O_DIRECT)", bytes: in.sz.raw, base: dd,
		cmds: []string{dd.cmds[0], "dd if=$LOOP bs=4M count=$COUNT iflag=direct status=none | cmp -n $SIZE - $RAW"}})
	ps := b.add(&row{group: "a", name: "pistudio flash raw (write + verify)", bytes: in.sz.raw, base: dd,
		cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$RAW")}})
	limit := b.add(&row{group: "a", name: "device limit: dd from /dev/zero", bytes: in.sz.raw, base: dd,
		cmds: []string{"dd if=/dev/zero of=$LOOP bs=4M count=$COUNT oflag=direct conv=fsync status=none"}})
	var psWrite, psVerify []time.Duration
	// Two runs more than elsewhere: a case takes a second or two here, and
	// its goal is the tightest.
	reps := b.cfg.reps + 2
	for i := 0; i < reps; i++ {
		b.logf("a: repetition %d/%d", i+1, reps)
		for _, r := range []*row{dd, ddcmp, limit} {
			if err := b.onFresh(in.sz.raw, func(dev string) error {
				return b.timedShell(r, vars(dev))
			}); err != nil {
				return err
			}
		}
		res, err := b.timedFlash(ps, in.raw, in.sz.raw)
		if err != nil {
			return err
		}
		psWrite = append(psWrite, res.WriteTime)
		psVerify = append(psVerify, res.VerifyTime)
	}
	ps.note = fmt.Sprintf("write phase %s, verify phase %s (medians)", medianOf(psWrite).Round(time.Millisecond), medianOf(psVerify).Round(time.Millisecond))
	b.goal("a", "pistudio write + verify ≤ 1.5 × plain dd", ps.ratio() <= 1.5, "%.2f ×", ps.ratio())
	r := ps.median().Seconds() / ddcmp.median().Seconds()
	b.goal("a", "pistudio faster than dd + cmp", r < 1, "%.2f × dd + cmp", r)
	return nil
}

func medianOf(d []time.Duration) time.Duration {
	r := row{times: d}
	return r.median()
}

// ---- b: sparse ----

func (b *bench) groupSparse(in *inputs) error {
	if err := b.needSparse(in); err != nil {
		return err
	}
	b.notePistudio()
	b.variable("TMPRAW", "a scratch file for simg2img's output, removed after each run")
	warm(in.raw, in.sparse, in.bmap)
	tmpRaw := filepath.Join(b.scratch, "simg2img.raw")
	vars := func(dev string) map[string]string {
		return map[string]string{"SPARSE": in.sparse, "LOOP": dev, "TMPRAW": tmpRaw, "BMAP": in.bmap, "BRAW": in.bmapIm}
	}
	simg := b.add(&row{group: "b", name: "simg2img + dd", short: "simg2img + dd", bytes: in.sz.raw,
		cmds: []string{"simg2img $SPARSE $TMPRAW", "dd if=$TMPRAW of=$LOOP bs=4M oflag=direct conv=fsync status=none"}})
	bmap := b.add(&row{group: "b", name: "bmaptool copy (source checksums, no read-back)", bytes: in.sz.raw, base: simg,
		cmds: []string{"bmaptool copy --bmap $BMAP $BRAW $LOOP"}})
	ps := b.add(&row{group: "b", name: "pistudio flash sparse (write + verify)", bytes: in.sz.raw, base: simg,
		cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$SPARSE")}})
	psb := b.add(&row{group: "b", name: "pistudio flash raw + bmap (write + verify)", bytes: in.sz.raw, base: simg,
		cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$BMAP")}})
	flashes := []struct {
		r   *row
		img string
	}{{ps, in.sparse}, {psb, in.bmap}}
	if err := b.needFieldSparse(in); err != nil {
		return err
	}
	if in.i2s != "" {
		r := b.add(&row{group: "b", name: "pistudio flash img2simg sparse (write + verify)", bytes: in.sz.raw, base: simg,
			cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$I2S")}})
		flashes = append(flashes, struct {
			r   *row
			img string
		}{r, in.i2s})
	}
	if in.gsparse != "" {
		r := b.add(&row{group: "b", name: "pistudio flash genimage android-sparse (write + verify)", bytes: in.sz.raw, base: simg,
			cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$GSPARSE")}})
		flashes = append(flashes, struct {
			r   *row
			img string
		}{r, in.gsparse})
	}
	var psWrite, psVerify []time.Duration
	for i := 0; i < b.cfg.reps; i++ {
		b.logf("b: repetition %d/%d", i+1, b.cfg.reps)
		for _, r := range []*row{simg, bmap} {
			if err := b.onFresh(in.sz.raw, func(dev string) error {
				defer os.Remove(tmpRaw)
				return b.timedShell(r, vars(dev))
			}); err != nil {
				return err
			}
		}
		for _, x := range flashes {
			res, err := b.timedFlash(x.r, x.img, in.sz.raw)
			if err != nil {
				return err
			}
			if x.r == ps {
				psWrite = append(psWrite, res.WriteTime)
				psVerify = append(psVerify, res.VerifyTime)
			}
		}
	}
	ps.note = fmt.Sprintf("write phase %s, verify phase %s (medians)", medianOf(psWrite).Round(time.Millisecond), medianOf(psVerify).Round(time.Millisecond))
	speed := simg.median().Seconds() / ps.median().Seconds()
	b.goal("b", "pistudio (sparse) ≥ 3 × faster than simg2img + dd", speed >= 3, "%.2f × faster", speed)
	r := ps.median().Seconds() / bmap.median().Seconds()
	b.goal("b", "pistudio (sparse, with read-back) no slower than bmaptool copy", r <= 1, "%.2f × bmaptool's time", r)
	for _, x := range flashes[1:] {
		r := x.r.median().Seconds() / bmap.median().Seconds()
		b.goal("b", strings.TrimSuffix(x.r.name, " (write + verify)")+", with read-back, no slower than bmaptool copy", r <= 1, "%.2f × bmaptool's time", r)
	}
	return nil
}

// genimageSparseCfg makes an android-sparse image of raw.img, as a
// genimage build does.
const genimageSparseCfg = `image raw.simg {
	android-sparse {
		image = "raw.img"
	}
}
`

// needFieldSparse makes $RAW sparse the way the field does: img2simg
// (runs of zeros become FILL chunks) and genimage's android-sparse. A
// missing tool leaves its image out, with a note.
func (b *bench) needFieldSparse(in *inputs) error {
	if _, err := exec.LookPath("img2simg"); err == nil {
		p := in.raw + ".img2simg"
		if _, err := os.Stat(p); err != nil {
			if _, err := b.shell("img2simg $RAW $OUT.tmp && mv $OUT.tmp $OUT", map[string]string{"RAW": in.raw, "OUT": p}); err != nil {
				return err
			}
		}
		in.i2s = p
		b.variable("I2S", "$RAW made sparse by `img2simg $RAW $I2S` (runs of zero blocks become FILL chunks)")
	} else {
		b.note("img2simg is not installed: the img2simg row is left out")
	}
	if _, err := exec.LookPath("genimage"); err != nil {
		b.note("genimage is not installed: the genimage android-sparse row is left out")
		return nil
	}
	dir := filepath.Join(b.data, "gsparse")
	p := filepath.Join(dir, "out", "raw.simg")
	if _, err := os.Stat(p); err != nil {
		for _, d := range []string{"in", "out", "root"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		os.Remove(filepath.Join(dir, "in", "raw.img"))
		if err := os.Link(in.raw, filepath.Join(dir, "in", "raw.img")); err != nil {
			return err
		}
		cfg := filepath.Join(dir, "sparse.cfg")
		if err := os.WriteFile(cfg, []byte(genimageSparseCfg), 0o644); err != nil {
			return err
		}
		tmp := filepath.Join(b.scratch, "gsparse-tmp")
		defer os.RemoveAll(tmp)
		if _, err := b.shell("genimage --config $CFG --inputpath $DIR/in --outputpath $DIR/out --rootpath $DIR/root --tmppath $TMP",
			map[string]string{"CFG": cfg, "DIR": dir, "TMP": tmp}); err != nil {
			return err
		}
	}
	in.gsparse = p
	b.variable("GSPARSE", "$RAW made sparse by genimage's android-sparse image type (bench/scenarios.go genimageSparseCfg)")
	return nil
}

// ---- c: xz and zstd ----

func (b *bench) groupCompressed(in *inputs) error {
	if err := b.needRaw(in); err != nil {
		return err
	}
	b.notePistudio()
	in.xz = in.raw + ".xz"
	in.zst = in.raw + ".zst"
	b.variable("XZ", "$RAW compressed with `xz -T2 -1 --block-size=64MiB -c $RAW > $XZ` (multi-block, decodable in parallel)")
	b.variable("ZST", "$RAW compressed with `zstd -q -T2 -3 -c $RAW > $ZST`")
	b.variable("BENCH", benchDesc)
	for _, p := range []struct{ out, cmd string }{
		{in.xz, "xz -T2 -1 --block-size=64MiB -c $RAW > $XZ"},
		{in.zst, "zstd -q -T2 -3 -c $RAW > $ZST"},
	} {
		if _, err := os.Stat(p.out); err == nil {
			continue
		}
		b.logf("compressing: %s", p.cmd)
		tmp := p.out + ".tmp"
		res, err := b.shell(p.cmd, map[string]string{"RAW": in.raw, "XZ": tmp, "ZST": tmp})
		if err != nil {
			os.Remove(tmp)
			return err
		}
		b.note("Preparing: `%s` took %s.", p.cmd, res.dur.Round(100*time.Millisecond))
		if err := os.Rename(tmp, p.out); err != nil {
			return err
		}
	}
	warm(in.xz, in.zst)
	vars := map[string]string{"XZ": in.xz, "ZST": in.zst, "BENCH": b.cfg.self}
	xzTool := b.add(&row{group: "c", name: "xz -dc -T2 (decode only)", short: "xz", bytes: in.sz.raw, cmds: []string{"xz -dc -T2 $XZ > /dev/null"}})
	xzOurs := b.add(&row{group: "c", name: "pistudio decode .xz (flash/source)", bytes: in.sz.raw, base: xzTool, cmds: []string{"$BENCH decode $XZ"}})
	zTool := b.add(&row{group: "c", name: "zstd -dc (decode only)", short: "zstd", bytes: in.sz.raw, cmds: []string{"zstd -q -dc $ZST > /dev/null"}})
	zOurs := b.add(&row{group: "c", name: "pistudio decode .zst (flash/source)", bytes: in.sz.raw, base: zTool, cmds: []string{"$BENCH decode $ZST"}})
	// xz takes ~15 s a pass at full scale: one repetition fewer than the rest.
	for i := 0; i < b.cfg.reps; i++ {
		b.logf("c: decode repetition %d/%d", i+1, b.cfg.reps)
		rows := []*row{zTool, zOurs}
		if i < max(1, b.cfg.reps-1) {
			rows = append(rows, xzTool, xzOurs)
		}
		for _, r := range rows {
			res, err := b.shell(r.cmds[0], vars)
			if err != nil {
				return err
			}
			r.record(res)
		}
	}
	// Flash both; compare their write phase with the raw image's.
	xzF := b.add(&row{group: "c", name: "pistudio flash .xz (write + verify)", bytes: in.sz.raw, cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$XZ")}})
	zF := b.add(&row{group: "c", name: "pistudio flash .zst (write + verify)", bytes: in.sz.raw, cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$ZST")}})
	rawF := b.add(&row{group: "c", name: "pistudio flash raw (same run, for the write phase)", short: "raw", bytes: in.sz.raw, cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$RAW")}})
	xzF.base, zF.base = rawF, rawF
	writes := map[*row][]time.Duration{}
	n := max(1, b.cfg.reps-1)
	for i := 0; i < n; i++ {
		b.logf("c: flash repetition %d/%d", i+1, n)
		for _, x := range []struct {
			r   *row
			img string
		}{{rawF, in.raw}, {xzF, in.xz}, {zF, in.zst}} {
			res, err := b.timedFlash(x.r, x.img, in.sz.raw)
			if err != nil {
				return err
			}
			writes[x.r] = append(writes[x.r], res.WriteTime)
		}
	}
	b.note("(c): the flashes run %d times and xz decodes %d times (one fewer than the cheap cases: a full-scale .xz pass takes ~15–20 s); the peak RSS of the .xz rows includes the xz process pistudio starts (`xz -dc -T0`).", n, max(1, b.cfg.reps-1))
	rw := medianOf(writes[rawF])
	for _, r := range []*row{rawF, xzF, zF} {
		w := medianOf(writes[r])
		r.note = fmt.Sprintf("write phase %s = %.0f MB/s", w.Round(time.Millisecond), float64(in.sz.raw)/1e6/w.Seconds())
	}
	zw := medianOf(writes[zF]).Seconds() / rw.Seconds()
	// At a real device's speed: the fastest target of a flasher is a USB 3
	// disk (≈400 MB/s, spec/flashing.md). The loop device above writes at
	// memory speed with the kernel's CPU, which on two cores competes
	// with the decoder; a throttled loop device shows whether decoding
	// holds a real write back.
	usbZ, err := b.throttledZstd(in, n)
	if err != nil {
		return err
	}
	if usbZ == nil {
		b.goal("c", "zstd never limits the write (decode faster than the write; .zst write phase within 10% of raw)",
			zOurs.rate() > float64(in.sz.raw)/1e6/rw.Seconds() && zw <= 1.10,
			"decode %.0f MB/s vs write %.0f MB/s; write phase %.2f × raw", zOurs.rate(), float64(in.sz.raw)/1e6/rw.Seconds(), zw)
	} else {
		b.goal("c", "zstd never limits the write (at USB 3 speed, 400 MB/s, the .zst flash within 10% of raw; decode faster than the write)",
			usbZ.ratio() <= 1.10 && zOurs.rate() > usbWriteBps/1e6,
			"%.2f × raw at 400 MB/s; decode %.0f MB/s; on the unthrottled loop device the .zst write phase is %.2f × raw (%.0f MB/s: decoding and the loop device's copying share 2 cores)",
			usbZ.ratio(), zOurs.rate(), zw, float64(in.sz.raw)/1e6/medianOf(writes[zF]).Seconds())
	}
	xw := medianOf(writes[xzF]).Seconds() / rw.Seconds()
	b.goal("c", "xz (multi-block) decodes at ≥ 100 MB/s", xzOurs.rate() >= 100,
		"%.0f MB/s (xz -T2 alone: %.0f MB/s); .xz write phase %.2f × raw", xzOurs.rate(), xzTool.rate(), xw)
	return nil
}

// usbWriteBps is the write speed of a fast USB 3 disk.
const usbWriteBps = 400e6

// throttledZstd flashes the raw image and its .zst to a loop device
// throttled to USB 3 write speed (reads, from the page cache, are not
// limited). It returns no rows when blkio throttling is missing.
func (b *bench) throttledZstd(in *inputs, reps int) (*row, error) {
	cg, cgErr := cgroupCreate()
	if cgErr != nil {
		b.note("(c): the USB 3 speed rows are left out: %v", cgErr)
		return nil, nil
	}
	raw := b.add(&row{group: "c", name: "pistudio flash raw, loop device throttled to 400 MB/s write (USB 3)", short: "raw at 400 MB/s", bytes: in.sz.raw,
		cmds: []string{"$BENCH raidwrite $CG400 $SCRATCH $LOOP=$RAW"}})
	zst := b.add(&row{group: "c", name: "pistudio flash .zst, loop device throttled to 400 MB/s write (USB 3)", bytes: in.sz.raw, base: raw,
		cmds: []string{"$BENCH raidwrite $CG400 $SCRATCH $LOOP=$ZST"}})
	b.variable("CG400", "a blkio cgroup (v1) limiting the loop device to 400 MB/s write, a fast USB 3 disk (reads unlimited)")
	for i := 0; i < reps; i++ {
		b.logf("c: USB 3 speed repetition %d/%d", i+1, reps)
		for _, r := range []*row{raw, zst} {
			if err := b.onFresh(in.sz.raw, func(dev string) error {
				if err := cgroupLimit(cg, dev, usbWriteBps, 0); err != nil {
					return err
				}
				defer cgroupLimit(cg, dev, 0, 0)
				res, err := b.shell(r.cmds[0], map[string]string{"CG400": cg, "SCRATCH": b.scratch, "LOOP": dev, "RAW": in.raw, "ZST": in.zst, "BENCH": b.cfg.self})
				if err != nil {
					return err
				}
				r.record(res)
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	return zst, nil
}

// ---- f: log pipeline ----

// logRate is the paced producer's rate: far above any burst of apt or
// mmdebstrap output (a few thousand lines a second).
const logRate = 100000

func (b *bench) groupLog(in *inputs) error {
	n := in.sz.lines
	in.lines = filepath.Join(b.data, fmt.Sprintf("lines-%d.txt", n))
	in.lines10 = filepath.Join(b.data, fmt.Sprintf("lines-%d.txt", n/10))
	for _, x := range []struct {
		p string
		n int
	}{{in.lines, n}, {in.lines10, n / 10}} {
		if err := genLines(x.p, x.n, 3); err != nil {
			return err
		}
	}
	b.variable("LINES", fmt.Sprintf("%d lines shaped like rpi-image-gen's output (apt lines, colour codes, \\r progress, stage headers)", n))
	b.variable("LINES10", fmt.Sprintf("%d lines of the same kind", n/10))
	b.variable("WORK", "a scratch work directory, emptied before each run")
	b.variable("BENCH", benchDesc)
	warm(in.lines, in.lines10)
	work := filepath.Join(b.scratch, "logwork")
	vars := map[string]string{"LINES": in.lines, "LINES10": in.lines10, "BENCH": b.cfg.self, "WORK": work}
	mk := func(name, cmd string) *row {
		return b.add(&row{group: "f", name: name, cmds: []string{"BENCH_CHILD_NS=$WORK/child.ns " + cmd}})
	}
	flatCat := mk(fmt.Sprintf("tool alone → cat, flat out, %d lines (tool's time)", n), "$BENCH emit $LINES 0 | cat > /dev/null")
	flatRun := mk(fmt.Sprintf("tool under runner + consumer, flat out, %d lines (tool's time)", n), "$BENCH logpipe $LINES 0 keep $WORK")
	flatRun.base = flatCat
	pacedCat := mk(fmt.Sprintf("tool alone → cat, %d lines at %d lines/s", n/10, logRate), fmt.Sprintf("$BENCH emit $LINES10 %d | cat > /dev/null", logRate))
	pacedRun := mk(fmt.Sprintf("tool under runner + consumer, %d lines at %d lines/s", n/10, logRate), fmt.Sprintf("$BENCH logpipe $LINES10 %d keep $WORK", logRate))
	pacedSlow := mk(fmt.Sprintf("tool under runner + slow consumer, %d lines at %d lines/s", n/10, logRate), fmt.Sprintf("$BENCH logpipe $LINES10 %d slow $WORK", logRate))
	rss10 := mk(fmt.Sprintf("runner + consumer, flat out, %d lines (for the RSS bound)", n/10), "$BENCH logpipe $LINES10 0 keep $WORK")
	pacedRun.base, pacedSlow.base = pacedCat, pacedCat
	flatCat.short, pacedCat.short = "tool alone", "tool alone"
	var flat, slow logResult
	var walls []time.Duration
	for i := 0; i < b.cfg.reps; i++ {
		b.logf("f: repetition %d/%d", i+1, b.cfg.reps)
		for _, r := range []*row{flatCat, flatRun, pacedCat, pacedRun, pacedSlow, rss10} {
			os.RemoveAll(work)
			if err := os.MkdirAll(work, 0o755); err != nil {
				return err
			}
			res, err := b.shell(r.cmds[0], vars)
			if err != nil {
				return err
			}
			ns, err := os.ReadFile(filepath.Join(work, "child.ns"))
			if err != nil {
				return fmt.Errorf("the tool did not record its time: %w", err)
			}
			d, _ := strconv.ParseInt(strings.TrimSpace(string(ns)), 10, 64)
			r.times = append(r.times, time.Duration(d))
			if strings.Contains(r.cmds[0], "logpipe") {
				r.addRSS(res.rssKiB)
				var lr logResult
				if err := json.Unmarshal(res.stdout, &lr); err != nil {
					return fmt.Errorf("logpipe output %q: %w", res.stdout, err)
				}
				switch r {
				case flatRun:
					flat = lr
					walls = append(walls, time.Duration(lr.Nanos))
				case pacedSlow:
					slow = lr
				}
			}
		}
	}
	os.RemoveAll(work)
	wall := medianOf(walls)
	flatRun.note = fmt.Sprintf("the runner drains %.0f lines/s (whole run %s); the consumer got %d lines, %d dropped; log file %s",
		float64(n)/wall.Seconds(), wall.Round(time.Millisecond), flat.Lines, flat.Dropped, mb(flat.LogSize))
	pacedSlow.note = fmt.Sprintf("the slow consumer got %d lines, %d dropped (the log file has them all)", slow.Lines, slow.Dropped)
	worst := max(pacedRun.ratio(), pacedSlow.ratio())
	b.goal("f", fmt.Sprintf("the tool is never slowed (paced at %d lines/s, fast and slow consumer)", logRate), worst <= 1.05,
		"%.3f × the tool's time alone; flat out the runner drains %.0f lines/s (%.1f × the tool's time into cat)", worst, float64(n)/wall.Seconds(), flatRun.ratio())
	grow := flatRun.rssKiB - rss10.rssKiB
	b.goal("f", "RSS bounded (ten times the lines add < 16 MiB)", grow < 16<<10 && flatRun.rssKiB < 200<<10,
		"peak RSS %s at %d lines, %s at %d lines", mb(flatRun.rssKiB<<10), n, mb(rss10.rssKiB<<10), n/10)
	return nil
}

// ---- g: peak RSS ----

func (b *bench) groupRSS(in *inputs) error {
	p := filepath.Join(b.data, "big.img")
	if _, err := os.Stat(p); err != nil {
		b.logf("generating %s (%s, %s of data)", p, mb(in.sz.big), mb(in.sz.bigData))
	}
	if err := genImage(p, in.sz.big, in.sz.bigData, 2); err != nil {
		return err
	}
	in.big = p
	b.notePistudio()
	b.variable("BIG", fmt.Sprintf("raw image, %s with %s of data", mb(in.sz.big), mb(in.sz.bigData)))
	warm(p)
	r := b.add(&row{group: "g", name: "pistudio flash, large raw image (peak RSS)", bytes: in.sz.big,
		cmds: []string{fmt.Sprintf(pistudioFlashCmd, "$BIG")}})
	if _, err := b.timedFlash(r, p, in.sz.big); err != nil {
		return err
	}
	r.note = "one run; peak RSS measured by GNU time (%M)"
	b.goal("g", "peak RSS of flashing a "+mb(in.sz.big)+" image < 100 MiB", r.rssKiB < 100<<10, "%s", mb(r.rssKiB<<10))
	return nil
}

// ---- go: testing.B benchmarks ----

func (b *bench) groupGo(in *inputs) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	if _, err := os.Stat("go.mod"); err != nil {
		b.note("Go benchmarks skipped: run the bench from the repository root.")
		return nil
	}
	pkgs := []string{"./flash/sparse", "./flash/source", "./builder/image/md", "./flash"}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchtime", "1s", "-count", "1"}, pkgs...)
	b.logf("go %s", strings.Join(args, " "))
	c := exec.CommandContext(b.ctx, goBin, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		return fmt.Errorf("go test -bench: %w\n%s", err, out.String())
	}
	var keep []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "pkg:") {
			keep = append(keep, l)
		}
	}
	b.gobench = "go " + strings.Join(args, " ") + "\n\n" + strings.Join(keep, "\n")
	return nil
}
