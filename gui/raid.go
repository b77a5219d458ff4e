package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/gui/backend"
	"github.com/pistudio/pistudio/internal/units"
)

// roleRow is one role of the plan.
type roleRow struct {
	role     backend.RaidRole
	sel      *widget.Select
	why      *widget.Label
	bar      *widget.ProgressBar
	progress *widget.Label
}

// raidView is the RAID set section.
type raidView struct {
	g       *App
	content fyne.CanvasObject

	setSel   *widget.Select
	setPaths map[string]string
	info     *widget.Label
	setErr   *widget.Label
	planBox  *fyne.Container
	planErr  *widget.Label
	notice   *widget.Label // "the disks changed" after a closed confirmation
	provBtn  *widget.Button
	cancel   *widget.Button
	summary  *widget.Label

	disks   []backend.Disk
	dir     string // the chosen set dir
	set     *backend.RaidSet
	plan    backend.Plan
	rows    []*roleRow
	diskOpt map[string]string // display → path
	running bool
	syncing bool // rows are being set from the plan
	stop    context.CancelFunc
	confirm *eraseDialog
	// asked is the plan the open confirmation lists; only it is written.
	asked *backend.Plan
}

func newRaidView(g *App) *raidView {
	r := &raidView{g: g, setPaths: map[string]string{}, diskOpt: map[string]string{}}
	r.setSel = widget.NewSelect(nil, func(s string) {
		if p := r.setPaths[s]; p != "" && p != r.dir {
			r.selectSet(p)
		}
	})
	r.setSel.PlaceHolder = "Choose a RAID image set"
	browse := widget.NewButtonWithIcon("Browse…", theme.FolderOpenIcon(), func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				g.showError(err)
				return
			}
			if u != nil {
				r.selectSet(u.Path())
			}
		}, g.win)
		d.Resize(fyne.NewSize(800, 560))
		d.Show()
	})
	r.info = wrapLabel("Build an image with the raid layout, or choose a set folder (it holds image.json).")
	r.setErr = errLabel()
	r.planBox = container.NewVBox()
	r.planErr = errLabel()
	r.notice = wrapLabel("")
	r.notice.Importance = widget.WarningImportance
	r.notice.Hide()
	r.provBtn = widget.NewButtonWithIcon("Provision…", theme.StorageIcon(), r.askProvision)
	r.provBtn.Importance = widget.HighImportance
	r.provBtn.Disable()
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { r.Cancel() })
	r.cancel.Disable()
	r.summary = wrapLabel("")
	r.summary.Selectable = true

	top := widget.NewCard("RAID image set", "", container.NewVBox(
		container.NewBorder(nil, nil, nil, browse, r.setSel), r.setErr, r.info))
	plan := widget.NewCard("Disks", "one disk per role; change any choice before you provision",
		container.NewVBox(r.planBox, r.planErr))
	bottom := container.NewVBox(widget.NewSeparator(),
		r.notice, container.NewHBox(layout.NewSpacer(), r.cancel, r.provBtn), r.summary)
	r.content = container.NewBorder(nil, bottom, nil, nil, container.NewVScroll(container.NewVBox(top, plan)))
	return r
}

// refresh lists the sets in the work dir; the last RAID build comes first.
func (r *raidView) refresh() {
	work, last := r.g.workDir(), r.g.set.LastRaidSet
	goUI(r.g.br, func() []string { return r.g.be.Raid.Sets(work) }, func(sets []string) {
		if last != "" && !contains(sets, last) {
			sets = append([]string{last}, sets...)
		}
		r.setPaths = map[string]string{}
		var opts []string
		for _, s := range sets {
			n := setName(s)
			r.setPaths[n] = s
			opts = append(opts, n)
		}
		r.setSel.Options = opts
		r.setSel.Refresh()
		if r.dir == "" && len(sets) > 0 && !r.running {
			r.selectSet(sets[0])
		}
	})
}

func setName(dir string) string {
	return filepath.Base(dir) + "  (" + filepath.Dir(dir) + ")"
}

type setResult struct {
	set backend.RaidSet
	err error
}

// selectSet loads a set's manifest off the UI goroutine and plans it.
func (r *raidView) selectSet(dir string) {
	if r.running {
		return
	}
	r.dir = dir
	n := setName(dir)
	if _, ok := r.setPaths[n]; !ok {
		r.setPaths[n] = dir
		r.setSel.Options = append([]string{n}, r.setSel.Options...)
	}
	r.setSel.SetSelected(n)
	goUI(r.g.br, func() setResult {
		s, err := r.g.be.Raid.Load(dir)
		return setResult{s, err}
	}, func(res setResult) {
		if dir != r.dir {
			return
		}
		if res.err != nil {
			r.set = nil
			r.setErr.SetText(res.err.Error())
			r.setErr.Show()
			r.planBox.RemoveAll()
			r.rows = nil
			r.provBtn.Disable()
			return
		}
		r.setErr.Hide()
		s := res.set
		r.set = &s
		r.info.SetText(fmt.Sprintf("%s · %s of %d external disks + SD card · array %s", s.Name, s.Level, len(s.Roles)-1, s.ArrayUUID))
		r.replan()
	})
}

// disksChanged takes a new disk list from the Flash section's watcher. A
// change while the confirmation is open closes it: what it lists may no
// longer be what would be written.
func (r *raidView) disksChanged(d []backend.Disk) {
	changed := !sameDisks(r.disks, d)
	r.disks = d
	if !changed {
		return
	}
	if r.confirm != nil {
		r.confirm.close()
		r.confirm, r.asked = nil, nil
		r.notice.SetText("The disks changed: check the plan again. Nothing was written.")
		r.notice.Show()
	}
	if r.set != nil && !r.running {
		r.replan()
	}
}

// sameDisks reports whether two disk lists show the same disks.
func sameDisks(a, b []backend.Disk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Path != y.Path || x.Name != y.Name || x.Size != y.Size || x.Model != y.Model || x.Eligible != y.Eligible || x.NeedsTypedConfirm != y.NeedsTypedConfirm || x.Reason != y.Reason {
			return false
		}
	}
	return true
}

// replan asks the flash package for a plan and shows one row per role.
func (r *raidView) replan() {
	set, disks := *r.set, r.disks
	goUI(r.g.br, func() planResult {
		p, err := r.g.be.Raid.Plan(set, disks)
		return planResult{p, err}
	}, func(res planResult) {
		if r.set == nil || r.set.Dir != set.Dir || r.running || !sameDisks(disks, r.disks) {
			return
		}
		r.showPlan(res.plan, res.err)
	})
}

type planResult struct {
	plan backend.Plan
	err  error
}

// showPlan shows one row per role of a plan.
func (r *raidView) showPlan(p backend.Plan, err error) {
	if err != nil && len(p.Assignments) == 0 {
		r.planBox.RemoveAll()
		r.rows = nil
		r.planErr.SetText(err.Error())
		r.planErr.Show()
		r.provBtn.Disable()
		return
	}
	r.plan = p
	r.diskOpt = map[string]string{}
	var opts []string
	for _, d := range r.disks {
		if !d.Eligible {
			continue
		}
		n := fmt.Sprintf("%s — %s %s", d.Path, d.Model, units.Decimal(d.Size))
		r.diskOpt[n] = d.Path
		opts = append(opts, n)
	}
	r.planBox.RemoveAll()
	r.rows = nil
	grid := container.New(layout.NewFormLayout())
	for i, a := range p.Assignments {
		i := i
		row := &roleRow{role: a.Role, why: hintLabel(a.Why), bar: widget.NewProgressBar(), progress: widget.NewLabel("")}
		row.bar.Hide()
		row.progress.Hide()
		row.sel = widget.NewSelect(opts, func(s string) {
			if r.running || r.syncing {
				return
			}
			r.assign(i, r.diskOpt[s])
		})
		row.sel.PlaceHolder = "(no disk)"
		label := fmt.Sprintf("%s\n%s, %s", a.Role.Role, filepath.Base(a.Role.Image), units.Decimal(a.Role.Size))
		grid.Add(widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(container.NewVBox(row.sel, row.why, row.bar, row.progress))
		r.rows = append(r.rows, row)
	}
	r.planBox.Add(grid)
	r.planBox.Refresh()
	r.syncRows()
	r.check()
}

// assign applies the user's choice for row i through the flash package's
// plan, which may re-propose other roles; a refused choice is shown and
// the rows go back to the plan.
func (r *raidView) assign(i int, disk string) {
	p, err := r.g.be.Raid.Assign(r.plan, r.plan.Assignments[i].Role.Role, disk)
	if err != nil {
		r.syncRows()
		r.planErr.SetText(err.Error())
		r.planErr.Show()
		return
	}
	r.plan = p
	r.syncRows()
	r.check()
}

// syncRows shows the plan's disk and reason in every row.
func (r *raidView) syncRows() {
	r.syncing = true
	defer func() { r.syncing = false }()
	for i, row := range r.rows {
		if i >= len(r.plan.Assignments) {
			break
		}
		a := r.plan.Assignments[i]
		sel := ""
		for n, path := range r.diskOpt {
			if path == a.Disk && a.Disk != "" {
				sel = n
			}
		}
		if sel == "" {
			row.sel.ClearSelected()
		} else {
			row.sel.SetSelected(sel)
		}
		row.why.SetText(a.Why)
	}
}

// check asks the flash package whether the plan can be written.
func (r *raidView) check() {
	err := r.g.be.Raid.Ready(r.plan)
	if err != nil {
		r.planErr.SetText(err.Error())
		r.planErr.Show()
		r.provBtn.Disable()
		return
	}
	r.planErr.Hide()
	if r.running {
		r.provBtn.Disable()
	} else {
		r.provBtn.Enable()
	}
}

// Rows returns the number of role rows shown.
func (r *raidView) Rows() int { return len(r.rows) }

func (r *raidView) planDisks(p backend.Plan) []backend.Disk {
	var out []backend.Disk
	for _, a := range p.Assignments {
		for _, d := range r.disks {
			if d.Path == a.Disk {
				d.Model = a.Role.Role + " → " + d.Model
				out = append(out, d)
			}
		}
	}
	return out
}

// askProvision shows one confirmation listing every disk. The plan is
// taken when it opens: the confirm button writes exactly that plan, with
// the names typed in it, and a disk change closes the confirmation.
func (r *raidView) askProvision() {
	if r.set == nil || r.running || r.confirm != nil {
		return
	}
	if err := r.g.be.Raid.Ready(r.plan); err != nil {
		r.g.showError(err)
		return
	}
	r.notice.Hide()
	plan := r.plan
	plan.Assignments = append([]backend.Assignment(nil), r.plan.Assignments...)
	r.asked = &plan
	intro := fmt.Sprintf("Write the %s set %q (%d disks):", r.set.Level, r.set.Name, len(plan.Assignments))
	var ed *eraseDialog
	ed = r.g.confirmErase("Provision RAID set?", intro, r.planDisks(plan), func(typed map[string]string) {
		if r.confirm != ed || r.asked == nil || r.running {
			return // invalidated by a disk change
		}
		asked := *r.asked
		r.confirm, r.asked = nil, nil
		r.provision(asked, typed)
	})
	ed.onCancel = func() {
		if r.confirm == ed {
			r.confirm, r.asked = nil, nil
		}
	}
	r.confirm = ed
}

// Cancel stops the provisioning in progress.
func (r *raidView) Cancel() {
	if r.stop != nil {
		r.summary.SetText("Cancelling…")
		r.stop()
	}
}

func (r *raidView) provision(plan backend.Plan, typed map[string]string) {
	ctx, cancel := context.WithCancel(r.g.ctx)
	r.stop = cancel
	r.running = true
	r.provBtn.Disable()
	r.cancel.Enable()
	r.summary.SetText("Provisioning…")
	throttles := map[string]*throttle[backend.Progress]{}
	for _, row := range r.rows {
		row := row
		row.sel.Disable()
		row.bar.SetValue(0)
		row.bar.Show()
		row.progress.SetText("waiting")
		row.progress.Show()
		throttles[row.role.Role] = newThrottle(r.g.br, 100*time.Millisecond, func(p backend.Progress) {
			if !r.running {
				return
			}
			row.bar.SetValue(progressFraction(p))
			row.progress.SetText(progressText(p))
		})
	}
	verify := r.g.set.Verify
	goUI(r.g.br, func() provResult {
		res, err := r.g.be.Raid.Provision(ctx, plan, verify, typed, func(tp backend.TargetProgress) {
			if t := throttles[tp.Role]; t != nil {
				t.Set(tp.Progress)
			}
		})
		return provResult{res, err}
	}, func(p provResult) { r.finish(p, cancel) })
}

type provResult struct {
	res []backend.TargetResult
	err error
}

func (r *raidView) finish(p provResult, cancel context.CancelFunc) {
	r.running = false
	cancel()
	r.stop = nil
	r.cancel.Disable()
	var lines []string
	failed := 0
	for _, t := range p.res {
		for _, row := range r.rows {
			if row.role.Role != t.Role {
				continue
			}
			if t.Err != nil {
				failed++
				row.progress.SetText("Failed: " + t.Err.Error())
				row.progress.Importance = widget.DangerImportance
				lines = append(lines, fmt.Sprintf("%s → %s: failed: %v", t.Role, t.Disk, t.Err))
			} else {
				row.bar.SetValue(1)
				row.progress.SetText("Done, hash " + t.Result.Hash)
				row.progress.Importance = widget.SuccessImportance
				v := ""
				if t.Result.Verified {
					v = " verified"
				}
				lines = append(lines, fmt.Sprintf("%s → %s: %s written in %s,%s hash %s", t.Role, t.Disk, units.Decimal(t.Result.Bytes), humanDuration(t.Result.Duration), v, t.Result.Hash))
			}
			row.progress.Refresh()
		}
	}
	for _, row := range r.rows {
		row.sel.Enable()
	}
	head := fmt.Sprintf("All %d disks written.", len(p.res))
	switch {
	case errors.Is(p.err, context.Canceled):
		head = "Cancelled. Disks that were not finished hold no valid image."
	case p.err != nil:
		head = "Provisioning failed: " + p.err.Error()
	case failed > 0:
		head = fmt.Sprintf("%d of %d disks failed.", failed, len(p.res))
	}
	r.summary.SetText(head + "\n" + strings.Join(lines, "\n"))
	r.g.notify(Title, head)
	r.check()
	r.g.workStopped()
}
