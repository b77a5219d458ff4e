package gui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/units"
)

// flashView is the Flash section.
type flashView struct {
	g       *App
	content fyne.CanvasObject

	// image
	imgSel     *formSelect
	imgPaths   map[string]string // display name → path
	image      string
	info       *imageInfo
	infoForm   *fyne.Container
	partBox    *fyne.Container
	imgErr     *widget.Label
	inspectGen int
	browseBtn  *formButton
	scanGen    int // bumped by every rescan; older results are dropped

	// disks
	all       []disk.Disk
	shown     []disk.Disk
	selected  string // disk path
	list      *widget.List
	showProt  *formCheck
	diskErr   *widget.Label
	sizeErr   *widget.Label // the selected disk is smaller than the image
	emptyDisk *widget.Label

	// flashing
	verify    *formCheck
	sha256    *formCheck
	flashBtn  *widget.Button
	cancelBtn *widget.Button
	bar       *widget.ProgressBar
	progress  *widget.Label
	result    *widget.Label
	ejectBtn  *widget.Button // powers off the disk just written
	written   *disk.Disk     // the disk the last write succeeded on
	running   bool
	cancel    context.CancelFunc
	confirm   *eraseDialog
	// many is the several-cards mode (manytargets.go).
	many *manyTargets
}

func newFlashView(g *App) *flashView {
	f := &flashView{g: g, imgPaths: map[string]string{}}
	f.imgSel = newFormSelect(nil, func(s string) {
		if p := f.imgPaths[s]; p != "" && p != f.image {
			f.selectImage(p)
		}
	})
	f.imgSel.PlaceHolder = "Choose an image"
	browse := newFormButton("Browse…", theme.FolderOpenIcon(), f.browse)
	f.browseBtn = browse
	f.infoForm = container.New(layout.NewFormLayout())
	f.partBox = container.NewVBox()
	f.imgErr = errLabel()
	f.sizeErr = errLabel()

	f.list = widget.NewList(func() int { return len(f.shown) }, func() fyne.CanvasObject {
		title := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		title.Truncation = fyne.TextTruncateEllipsis
		sub := widget.NewLabel("")
		sub.Truncation = fyne.TextTruncateEllipsis
		sub.SizeName = theme.SizeNameCaptionText
		return container.NewBorder(nil, nil, widget.NewIcon(iconDrive), nil, container.NewVBox(title, sub))
	}, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id >= len(f.shown) {
			return
		}
		d := f.shown[id]
		c := o.(*fyne.Container)
		c.Objects[1].(*widget.Icon).SetResource(busIcon(d.Bus))
		box := c.Objects[0].(*fyne.Container)
		title, sub := box.Objects[0].(*widget.Label), box.Objects[1].(*widget.Label)
		title.SetText(fmt.Sprintf("%s — %s", diskModel(d), units.Decimal(d.SizeBytes)))
		state := "can be written"
		sub.Importance = widget.SuccessImportance
		switch {
		case !d.Eligible:
			state = "protected: " + d.Reason
			sub.Importance = widget.DangerImportance
		case f.tooSmall(d):
			state = tooSmallText(d, f.info.Size)
			sub.Importance = widget.DangerImportance
		}
		bus := d.Bus
		if bus == "" {
			bus = "disk"
		}
		serial := ""
		if d.Serial != "" {
			serial = " · serial " + d.Serial
		}
		sub.SetText(fmt.Sprintf("%s · %s%s · %s", d.Path, bus, serial, state))
	})
	f.list.OnSelected = func(id widget.ListItemID) {
		if id >= len(f.shown) {
			return
		}
		d := f.shown[id]
		if f.running && d.Path != f.selected {
			// The disk being written stays the selected one.
			f.filter()
			return
		}
		if !d.Eligible {
			f.list.Unselect(id)
			return
		}
		f.selected = d.Path
		f.updateButtons()
	}
	f.list.OnUnselected = func(widget.ListItemID) {
		if !f.running {
			f.selected = ""
			f.updateButtons()
		}
	}
	f.showProt = newFormCheck("Show protected disks", func(on bool) {
		g.set.ShowProtected = on
		f.filter()
	})
	f.showProt.SetChecked(g.set.ShowProtected)
	f.diskErr = errLabel()
	f.emptyDisk = wrapLabel("No writable disk found. Insert an SD card or a USB disk; the list updates by itself.")
	f.emptyDisk.Hide()

	f.verify = newFormCheck("Verify after writing", nil)
	f.verify.SetChecked(g.set.Verify)
	// One setting: this box and the one in Settings are the same value,
	// which RAID provisioning uses too.
	f.verify.OnChanged = func(on bool) {
		if g.set.Verify == on {
			return
		}
		g.set.Verify = on
		if g.settings != nil {
			g.settings.verify.SetChecked(on)
		}
		g.storeSettings()
	}
	f.sha256 = newFormCheck("Compute SHA-256", nil)
	f.sha256.SetChecked(g.set.SHA256)
	f.sha256.OnChanged = func(on bool) {
		g.set.SHA256 = on
		g.storeSettings()
	}
	f.flashBtn = widget.NewButtonWithIcon("Flash…", theme.DownloadIcon(), f.askFlash)
	f.flashBtn.Importance = widget.HighImportance
	f.cancelBtn = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), f.Cancel)
	f.cancelBtn.Disable()
	f.bar = widget.NewProgressBar()
	f.bar.Hide()
	f.progress = widget.NewLabel("")
	f.result = wrapLabel("")
	f.result.Selectable = true
	f.ejectBtn = widget.NewButtonWithIcon("Safely remove", theme.LogoutIcon(), f.eject)
	f.ejectBtn.Hide()

	g.custom = newCustomiseView(g)
	f.many = newManyTargets(f)
	imgCard := widget.NewCard("Image", "", container.NewVBox(
		container.NewBorder(nil, nil, nil, browse, f.imgSel), f.imgErr, f.infoForm, f.partBox))
	diskCard := widget.NewCard("Target disk", "", container.NewBorder(
		container.NewVBox(container.NewHBox(f.showProt, f.many.sw), f.diskErr, f.emptyDisk), nil, nil, nil,
		container.NewStack(f.list, f.many.panel)))
	bottom := container.NewVBox(
		widget.NewSeparator(),
		container.NewHBox(f.verify, f.sha256, layout.NewSpacer(), f.cancelBtn, f.flashBtn),
		f.sizeErr, f.bar, f.progress, container.NewBorder(nil, nil, nil, f.ejectBtn, f.result))
	g.custom.scroll = container.NewVScroll(container.NewVBox(imgCard, g.custom.card))
	split := container.NewHSplit(g.custom.scroll, diskCard)
	split.Offset = 0.45
	f.content = container.NewBorder(nil, bottom, nil, nil, split)
	f.updateButtons()
	return f
}

// start scans the disks and keeps the list current on hotplug.
func (f *flashView) start(ctx context.Context) {
	f.rescan(ctx)
	go func() {
		ch, err := f.g.be.Disks.Watch(ctx)
		if err != nil {
			f.g.br.ui(func() { f.showDiskErr(fmt.Errorf("watching for disks: %w", err)) })
			return
		}
		for range ch {
			f.rescan(ctx)
		}
	}()
	f.refreshImages()
}

type scanResult struct {
	disks []disk.Disk
	err   error
}

// rescan lists the disks off the UI goroutine. Scans may overlap (hotplug
// events come in bursts); only the latest one's list is shown. It is
// called from the watcher goroutine too, so the generation is taken on the
// UI goroutine.
func (f *flashView) rescan(ctx context.Context) {
	f.g.br.ui(func() {
		f.scanGen++
		gen := f.scanGen
		goUI(f.g.br, func() scanResult {
			d, err := f.g.be.Disks.Scan(ctx)
			return scanResult{d, err}
		}, func(r scanResult) {
			if gen == f.scanGen {
				f.showScan(r)
			}
		})
	})
}

// showScan shows a disk list and hands it to the RAID section.
func (f *flashView) showScan(r scanResult) {
	{
		if r.err != nil {
			f.showDiskErr(fmt.Errorf("listing disks: %w", r.err))
			return
		}
		f.diskErr.Hide()
		f.setDisks(r.disks)
		f.g.raid.disksChanged(r.disks)
	}
}

func (f *flashView) showDiskErr(err error) {
	f.diskErr.SetText(err.Error())
	f.diskErr.Show()
}

func (f *flashView) setDisks(d []disk.Disk) {
	f.all = d
	f.filter()
}

func (f *flashView) filter() {
	f.shown = f.shown[:0]
	for _, d := range f.all {
		if d.Eligible || f.showProt.Checked {
			f.shown = append(f.shown, d)
		}
	}
	keep, running := f.selected, f.running
	f.running = false // let the list's callbacks re-select
	f.list.UnselectAll()
	f.selected = ""
	for i, d := range f.shown {
		if d.Path == keep && (d.Eligible || running) {
			f.list.Select(i)
		}
	}
	if running {
		f.selected = keep
	}
	f.running = running
	eligible := 0
	for _, d := range f.all {
		if d.Eligible {
			eligible++
		}
	}
	if eligible == 0 {
		f.emptyDisk.Show()
	} else {
		f.emptyDisk.Hide()
	}
	f.list.Refresh()
	f.many.sync()
	f.updateButtons()
}

// disk returns the selected disk.
func (f *flashView) disk() (disk.Disk, bool) {
	for _, d := range f.all {
		if d.Path == f.selected {
			return d, true
		}
	}
	return disk.Disk{}, false
}

// selectDisk selects a disk by path (it must be listed).
func (f *flashView) selectDisk(path string) {
	for i, d := range f.shown {
		if d.Path == path {
			f.list.Select(i)
		}
	}
}

// refreshImages lists recent build artifacts, newest first.
func (f *flashView) refreshImages() {
	work := f.g.workDir()
	goUI(f.g.br, func() []string { return f.g.be.Images.Recent(work) }, func(paths []string) {
		f.imgPaths = map[string]string{}
		var opts []string
		for _, p := range paths {
			opts = append(opts, f.addImageOption(p))
		}
		if f.image != "" && !contains(opts, f.displayName(f.image)) {
			opts = append([]string{f.addImageOption(f.image)}, opts...)
		}
		f.imgSel.Options = opts
		f.imgSel.Refresh()
	})
}

func (f *flashView) displayName(p string) string {
	return filepath.Base(p) + "  (" + filepath.Base(filepath.Dir(p)) + ")"
}

func (f *flashView) addImageOption(p string) string {
	n := f.displayName(p)
	f.imgPaths[n] = p
	return n
}

func (f *flashView) browse() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			f.g.showError(err)
			return
		}
		if r == nil {
			return
		}
		p := r.URI().Path()
		_ = r.Close()
		f.selectImage(p)
	}, f.g.win)
	d.SetFilter(storage.NewExtensionFileFilter(imageExts))
	d.SetView(dialog.ListView) // whole names, not cut to a grid cell
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

type inspectResult struct {
	info imageInfo
	err  error
}

// selectImage chooses an image and inspects it off the UI goroutine.
func (f *flashView) selectImage(p string) {
	f.image = p
	n := f.displayName(p)
	if !contains(f.imgSel.Options, n) {
		f.imgSel.Options = append([]string{f.addImageOption(p)}, f.imgSel.Options...)
	}
	f.imgSel.SetSelected(n)
	f.info = nil
	f.list.Refresh()
	f.resetResult()
	f.infoForm.RemoveAll()
	f.partBox.RemoveAll()
	f.imgErr.Hide()
	f.inspectGen++
	gen := f.inspectGen
	f.g.custom.imageChanged(p)
	f.updateButtons()
	ctx := f.g.ctx
	goUI(f.g.br, func() inspectResult {
		return inspectImage(ctx, f.g.be.Images, p)
	}, func(r inspectResult) {
		if gen != f.inspectGen {
			return
		}
		if r.err != nil {
			f.imgErr.SetText(r.err.Error())
			f.imgErr.Show()
			return
		}
		f.showInfo(r.info)
	})
}

func (f *flashView) showInfo(i imageInfo) {
	f.info = &i
	row := func(k, v string) {
		f.infoForm.Add(widget.NewLabelWithStyle(k, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
		l := widget.NewLabel(v)
		l.Wrapping = fyne.TextWrapBreak
		f.infoForm.Add(l)
	}
	row("File", i.Path)
	row("Format", string(i.Format))
	if i.FileSize > 0 {
		row("File size", units.Decimal(i.FileSize))
	}
	row("Image size", units.Decimal(i.Size))
	if i.DataSize > 0 && i.DataSize != i.Size {
		row("Data to write", units.Decimal(i.DataSize))
	}
	if i.Table != "" {
		row("Partition table", i.Table)
	}
	f.infoForm.Refresh()
	f.partBox.Add(widget.NewLabelWithStyle("Partitions", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	if len(i.Partitions) == 0 {
		f.partBox.Add(widget.NewLabel("No partition table found"))
	}
	for _, p := range i.Partitions {
		f.partBox.Add(widget.NewLabel(partitionLine(p)))
	}
	f.partBox.Refresh()
	f.list.Refresh()
	f.updateButtons()
}

func (f *flashView) updateButtons() {
	d, ok := f.disk()
	small := ok && f.tooSmall(d)
	if f.running || !ok || f.image == "" || small {
		f.flashBtn.Disable()
	} else {
		f.flashBtn.Enable()
	}
	if small && !f.running {
		f.sizeErr.SetText(d.Path + " is " + tooSmallText(d, f.info.Size) + ". Choose a larger disk.")
		f.sizeErr.Show()
	} else {
		f.sizeErr.Hide()
	}
	// Nothing that names the image, the disk or the options of the write
	// changes while it runs.
	for _, w := range []fyne.Disableable{f.imgSel, f.browseBtn, f.verify, f.sha256, f.showProt} {
		if f.running {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	f.flashtimeButtons()
}

// askFlash shows the erase confirmation; only its confirm button writes.
func (f *flashView) askFlash() {
	d, ok := f.disk()
	if !ok || f.image == "" || f.running || f.tooSmall(d) || !f.g.custom.ready(1) {
		return
	}
	intro := fmt.Sprintf("Write %s to this disk?", filepath.Base(f.image))
	f.confirm = f.g.confirmErase("Flash "+filepath.Base(f.image)+"?", intro, []disk.Disk{d}, nil, func(typed map[string]string) {
		f.confirm = nil
		f.flash(flashJob{Image: f.image, Disk: d, Verify: f.verify.Checked, SHA256: f.sha256.Checked, Confirmed: typed[d.Path]})
	})
}

// flash writes the image; the flasher re-checks every guard.
func (f *flashView) flash(job flashJob) {
	ctx, cancel := context.WithCancel(f.g.ctx)
	f.cancel = cancel
	f.running = true
	f.cancelBtn.Enable()
	f.updateButtons()
	f.bar.SetValue(0)
	f.bar.Show()
	f.result.SetText("")
	f.written = nil
	f.ejectBtn.Hide()
	f.progress.SetText("Preparing " + job.Disk.Path + "…")
	th := newThrottle(f.g.br, 100*time.Millisecond, func(p flash.Progress) {
		if !f.running {
			return
		}
		f.bar.SetValue(progressFraction(p))
		f.progress.SetText(progressText(p))
	})
	apply := f.g.custom.applyFunc(1)
	goUI(f.g.br, func() flashResult {
		r, err := f.g.be.Flasher.Flash(ctx, job.Image, job.Disk, job.Confirmed, flash.Options{
			NoVerify: !job.Verify, SHA256: job.SHA256, AllowUnmount: job.AllowUnmount, Progress: th.Set,
		})
		return applyAfter(ctx, flashResult{res: r, err: err}, job.Disk, apply)
	}, func(r flashResult) {
		f.running = false
		cancel()
		f.cancel = nil
		f.cancelBtn.Disable()
		f.updateButtons()
		defer f.g.workStopped()
		name := filepath.Base(job.Image)
		switch {
		case errors.Is(r.err, flash.ErrMounted) && !job.AllowUnmount:
			f.progress.SetText("")
			f.bar.Hide()
			d := dialog.NewConfirm("Unmount the disk?", r.err.Error()+"\n\nUnmount its partitions and write?", func(ok bool) {
				if ok {
					job.AllowUnmount = true
					f.flash(job)
				}
			}, f.g.win)
			d.SetConfirmText("Unmount and write")
			d.SetConfirmImportance(widget.WarningImportance)
			d.Show()
		case errors.Is(r.err, context.Canceled):
			f.progress.SetText("Cancelled. The disk holds no valid image now.")
			f.result.SetText("")
			f.g.notify(Title, "Flashing "+name+" was cancelled")
		case r.err != nil:
			f.g.sudoError(r.err)
			f.progress.SetText("Failed")
			f.result.SetText(r.err.Error())
			f.result.Importance = widget.DangerImportance
			f.result.Refresh()
			f.g.notify(Title, "Flashing "+name+" failed")
		default:
			f.bar.SetValue(1)
			f.progress.SetText(fmt.Sprintf("Wrote %s to %s in %s", units.Decimal(r.res.Written), job.Disk.Path, humanDuration(r.res.WriteTime+r.res.VerifyTime)))
			msg := "Image hash: " + resultHash(r.res)
			if r.res.Verified {
				msg = "Verified: the disk reads back as the image. Hash: " + resultHash(r.res)
			}
			f.result.SetText(msg + r.noteLine())
			f.result.Importance = widget.SuccessImportance
			f.result.Refresh()
			d := job.Disk
			f.written = &d
			f.ejectBtn.SetText("Safely remove " + d.Name)
			f.ejectBtn.Enable()
			f.ejectBtn.Show()
			f.g.notify(Title, "Flashed "+name+" to "+job.Disk.Path)
		}
	})
}

type flashResult struct {
	res *flash.Result
	err error
	// note says which settings were written after the image.
	note string
}

// Cancel stops the running write.
func (f *flashView) Cancel() {
	if f.cancel != nil {
		f.progress.SetText("Cancelling…")
		f.cancel()
	}
}

// flashJob is one write the user confirmed.
type flashJob struct {
	// Image is the image file; Disk the target.
	Image string
	Disk  disk.Disk
	// Verify reads the disk back; SHA256 also hashes the image with SHA-256.
	Verify, SHA256 bool
	// Confirmed is the disk name the user typed, when asked for.
	Confirmed string
	// AllowUnmount lets the writer unmount the disk's mounted partitions.
	AllowUnmount bool
}

// imageInfo is an inspected image and the size of its file.
type imageInfo struct {
	source.Info
	// FileSize is the file's size on disk (0 when unknown).
	FileSize int64
}

// inspectImage reads an image's format, sizes and partitions; worker goroutine.
func inspectImage(ctx context.Context, images ImageInspector, path string) inspectResult {
	in, err := images.Inspect(ctx, path)
	if err != nil {
		return inspectResult{err: err}
	}
	out := imageInfo{Info: *in}
	if out.Path == "" {
		out.Path = path
	}
	if st, err := os.Stat(path); err == nil {
		out.FileSize = st.Size()
	}
	return inspectResult{info: out}
}

// partitionLine describes one partition of an image.
func partitionLine(p source.PartitionInfo) string {
	t := p.TypeName
	if t == "" {
		t = p.Type
	} else {
		t += " (" + p.Type + ")"
	}
	if p.Filesystem != "" {
		t += " " + p.Filesystem
	}
	label := p.Label
	if label == "" {
		label = p.Name
	}
	s := fmt.Sprintf("%d. %s  %s at %s", p.Index, t, units.Decimal(p.Size), units.Decimal(p.Start))
	if label != "" {
		s += "  “" + label + "”"
	}
	return s
}

// resultHash names the image hash of a write: "sha256:<hex>" when the
// SHA-256 was computed, else "xxh3:<hex>" (the XXH3-128 of the image).
func resultHash(res *flash.Result) string {
	if res.SHA256 != "" {
		return "sha256:" + res.SHA256
	}
	return "xxh3:" + res.XXH3
}

// tooSmall reports whether d cannot hold the inspected image.
func (f *flashView) tooSmall(d disk.Disk) bool {
	return f.info != nil && f.info.Size > 0 && d.SizeBytes < f.info.Size
}

// tooSmallText names both sizes in the units the disk list uses.
func tooSmallText(d disk.Disk, image int64) string {
	return fmt.Sprintf("too small: %s, the image needs %s", units.Decimal(d.SizeBytes), units.Decimal(image))
}

// resetResult clears the bar and the result of the last write (a new
// image was chosen); nothing changes while a write runs.
func (f *flashView) resetResult() {
	if f.running {
		return
	}
	f.bar.SetValue(0)
	f.bar.Hide()
	f.progress.SetText("")
	f.result.SetText("")
	f.result.Importance = widget.MediumImportance
	f.result.Refresh()
	f.written = nil
	f.ejectBtn.Hide()
}

// eject powers off the disk just written (and only that one) off the UI
// goroutine, then says whether it can be unplugged.
func (f *flashView) eject() {
	if f.written == nil || f.running {
		return
	}
	d := *f.written
	f.ejectBtn.Disable()
	ctx := f.g.ctx
	goUI(f.g.br, func() error { return f.g.be.Flasher.Eject(ctx, d) }, func(err error) {
		if f.written == nil || f.written.Path != d.Path {
			return
		}
		if err != nil {
			f.ejectBtn.Enable()
			f.g.showError(err)
			return
		}
		f.written = nil
		f.ejectBtn.Hide()
		f.progress.SetText(d.Path + " is powered off: you can unplug it now.")
	})
}
