package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/internal/units"
)

// manyTargets is the Flash section's "Several cards" mode: off by
// default; when on, the user ticks several disks, each written at once with
// its own progress bar, hostname and result.
type manyTargets struct {
	f     *flashView
	sw    *formCheck
	panel *fyne.Container
	rows  []*targetRow
	box   *fyne.Container
	btn   *widget.Button
	note  *widget.Label
	key   string // the disk paths the rows were made for
}

// targetRow is one disk of the several-cards list.
type targetRow struct {
	d     disk.Disk
	pick  *formCheck
	host  *widget.Label
	bar   *widget.ProgressBar
	state *widget.Label
	// done is set once the row's result is shown: later progress
	// reports are dropped.
	done bool
}

func newManyTargets(f *flashView) *manyTargets {
	m := &manyTargets{f: f}
	m.sw = newFormCheck("Several cards", func(bool) { m.toggled() })
	m.box = container.NewVBox()
	m.note = wrapLabel("Tick the disks to write. Each gets the same image and, with Customise on, its own hostname.")
	m.btn = widget.NewButtonWithIcon("Flash the ticked disks…", theme.DownloadIcon(), m.ask)
	m.btn.Importance = widget.HighImportance
	m.btn.Disable()
	m.panel = container.NewBorder(m.note, container.NewHBox(m.btn), nil, nil, container.NewVScroll(m.box))
	m.panel.Hide()
	return m
}

// On reports whether several cards are written at once.
func (m *manyTargets) On() bool { return m.sw.Checked }

// toggled switches between the one-disk list and the ticked list.
func (m *manyTargets) toggled() {
	if m.On() {
		m.f.list.Hide()
		m.panel.Show()
		m.sync()
	} else {
		m.panel.Hide()
		m.f.list.Show()
	}
	m.f.updateButtons()
}

// sync remakes the rows when the writable disks changed (never during a
// write: the rows being written stay).
func (m *manyTargets) sync() {
	if m == nil || m.f.running {
		return
	}
	var paths []string
	for _, d := range m.f.all {
		if d.Eligible {
			paths = append(paths, d.Path)
		}
	}
	key := strings.Join(paths, "\n")
	if key == m.key && len(m.rows) > 0 {
		m.names()
		return
	}
	m.key = key
	picked := map[string]bool{}
	for _, r := range m.rows {
		picked[r.d.Path] = r.pick.Checked
	}
	m.rows = nil
	m.box.RemoveAll()
	for _, d := range m.f.all {
		if d.Eligible {
			m.addRow(d, picked[d.Path])
		}
	}
	m.box.Refresh()
	m.names()
}

// addRow adds the row of one disk.
func (m *manyTargets) addRow(d disk.Disk, picked bool) {
	r := &targetRow{d: d, host: widget.NewLabel(""), bar: widget.NewProgressBar(), state: widget.NewLabel("")}
	r.pick = newFormCheck(fmt.Sprintf("%s — %s (%s)", diskModel(d), units.Decimal(d.SizeBytes), d.Path), func(bool) {
		m.names()
		m.f.updateButtons()
	})
	r.pick.SetChecked(picked)
	r.host.TextStyle.Bold = true
	r.bar.Hide()
	r.state.Wrapping = fyne.TextWrapWord
	m.rows = append(m.rows, r)
	m.box.Add(container.NewVBox(container.NewBorder(nil, nil, nil, r.host, r.pick), r.bar, r.state))
}

// picked returns the ticked rows in list order.
func (m *manyTargets) picked() []*targetRow {
	var out []*targetRow
	for _, r := range m.rows {
		if r.pick.Checked {
			out = append(out, r)
		}
	}
	return out
}

// names shows each ticked disk's hostname from the Customise pattern.
func (m *manyTargets) names() {
	rows := m.picked()
	for _, r := range m.rows {
		r.host.SetText("")
	}
	c := m.f.g.custom
	if c == nil || !c.active() || len(rows) == 0 {
		return
	}
	ss, err := c.targets(len(rows))
	if err != nil {
		return
	}
	for i, r := range rows {
		if ss[i].Hostname != "" {
			r.host.SetText("hostname " + ss[i].Hostname)
		}
	}
}

// update enables the flash button and the ticks.
func (m *manyTargets) update() {
	n := len(m.picked())
	ok := m.On() && !m.f.running && m.f.image != "" && n > 0 && !m.anyTooSmall()
	setEnabled(m.btn, ok)
	if n > 0 {
		m.btn.SetText(fmt.Sprintf("Flash %s…", plural(n, "disk")))
	} else {
		m.btn.SetText("Flash the ticked disks…")
	}
	for _, r := range m.rows {
		setEnabled(r.pick, !m.f.running)
	}
	setEnabled(m.sw, !m.f.running)
}

func (m *manyTargets) anyTooSmall() bool {
	for _, r := range m.picked() {
		if m.f.tooSmall(r.d) {
			m.f.sizeErr.SetText(r.d.Path + " is " + tooSmallText(r.d, m.f.info.Size) + ". Untick it.")
			m.f.sizeErr.Show()
			return true
		}
	}
	return false
}

// ask confirms erasing every ticked disk, then writes them.
func (m *manyTargets) ask() {
	rows := m.picked()
	if len(rows) == 0 || m.f.image == "" || m.f.running || !m.f.g.custom.ready(len(rows)) {
		return
	}
	disks := make([]disk.Disk, len(rows))
	for i, r := range rows {
		disks[i] = r.d
	}
	name := filepath.Base(m.f.image)
	m.f.confirm = m.f.g.confirmErase(fmt.Sprintf("Flash %s to %s?", name, plural(len(rows), "disk")),
		fmt.Sprintf("Write %s to each of these disks?", name), disks, nil, func(typed map[string]string) {
			m.f.confirm = nil
			m.run(rows, typed)
		})
}

// run writes every row at once; each reports its own progress and result.
func (m *manyTargets) run(rows []*targetRow, typed map[string]string) {
	f := m.f
	if !f.g.custom.ready(len(rows)) {
		return
	}
	ctx, cancel := context.WithCancel(f.g.ctx)
	f.cancel, f.running = cancel, true
	f.cancelBtn.Enable()
	f.updateButtons()
	f.progress.SetText(fmt.Sprintf("Writing %s…", plural(len(rows), "disk")))
	apply := f.g.custom.applyFunc(len(rows))
	opts := flash.Options{NoVerify: !f.verify.Checked, SHA256: f.sha256.Checked}
	image := f.image
	var wg sync.WaitGroup
	results := make([]targetResult, len(rows))
	for i, r := range rows {
		r.done = false
		r.bar.SetValue(0)
		r.bar.Show()
		r.state.SetText("Waiting…")
		r.state.Importance = widget.MediumImportance
		wg.Add(1)
		go func(i int, r *targetRow) {
			defer wg.Done()
			results[i] = m.writeOne(ctx, i, r, image, typed[r.d.Path], opts, apply)
		}(i, r)
	}
	go func() {
		wg.Wait()
		f.g.br.ui(func() { m.finished(rows, results, cancel) })
	}()
}

// targetResult is how one target ended.
type targetResult struct {
	res  *flash.Result
	note string
	err  error
}

// writeOne writes one target and then its settings; worker goroutine.
func (m *manyTargets) writeOne(ctx context.Context, i int, r *targetRow, image, typed string, opts flash.Options,
	apply func(context.Context, int, flash.Target) (string, error)) targetResult {
	th := newThrottle(m.f.g.br, 100*time.Millisecond, func(p flash.Progress) {
		if r.done {
			return
		}
		r.bar.SetValue(progressFraction(p))
		r.state.SetText(progressText(p))
	})
	opts.Progress = th.Set
	res, err := m.f.g.be.Flasher.Flash(ctx, image, r.d, typed, opts)
	out := targetResult{res: res, err: err}
	if err == nil && apply != nil {
		out.note, err = apply(ctx, i, flash.Target{Path: r.d.Path, Identity: r.d.Identity()})
		if err != nil {
			out.err = fmt.Errorf("%w: %w", errSettings, err)
		}
	}
	return out
}

// finished shows each target's result and the total; UI goroutine.
func (m *manyTargets) finished(rows []*targetRow, results []targetResult, cancel context.CancelFunc) {
	f := m.f
	cancel()
	f.cancel, f.running = nil, false
	f.cancelBtn.Disable()
	ok := 0
	for i, r := range rows {
		res := results[i]
		r.done = true
		switch {
		case res.err == nil:
			ok++
			r.bar.SetValue(1)
			r.state.SetText(targetDone(res))
			r.state.Importance = widget.SuccessImportance
		case errors.Is(res.err, context.Canceled):
			r.state.SetText("Cancelled. The disk holds no valid image now.")
			r.state.Importance = widget.WarningImportance
		default:
			r.state.SetText("Failed: " + res.err.Error())
			r.state.Importance = widget.DangerImportance
		}
		r.state.Refresh()
	}
	for _, res := range results {
		if res.err != nil && f.g.sudoError(res.err) {
			break // one notice is enough: every target needs the same command
		}
	}
	msg := fmt.Sprintf("%d of %s written.", ok, plural(len(rows), "disk"))
	f.progress.SetText(msg)
	f.g.notify(Title, msg)
	f.updateButtons()
	f.g.workStopped()
}

// targetDone is the result line of a written target.
func targetDone(r targetResult) string {
	s := "Written"
	if r.res != nil && r.res.Verified {
		s = "Written and verified"
	}
	if r.res != nil {
		s += " · " + resultHash(r.res)
	}
	if r.note != "" {
		s += " · " + r.note
	}
	return s
}

// flashtimeButtons keeps the several-cards and Customise controls in step
// with the one-disk ones: the one-disk Flash button rests while several
// cards are chosen.
func (f *flashView) flashtimeButtons() {
	if f.many == nil {
		return
	}
	if f.many.On() {
		f.flashBtn.Disable()
	}
	f.many.update()
	if f.g.custom != nil {
		f.g.custom.update()
	}
}

// applyAfter writes the settings of a one-disk write that succeeded.
func applyAfter(ctx context.Context, r flashResult, d disk.Disk,
	apply func(context.Context, int, flash.Target) (string, error)) flashResult {
	if r.err != nil || apply == nil {
		return r
	}
	note, err := apply(ctx, 0, flash.Target{Path: d.Path, Identity: d.Identity()})
	if err != nil {
		r.err = fmt.Errorf("%w: %w", errSettings, err)
		return r
	}
	r.note = note
	return r
}

// noteLine is the settings note as a line of its own, "" when none.
func (r flashResult) noteLine() string {
	if r.note == "" {
		return ""
	}
	return "\n" + r.note
}
