package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/manifest"
	"github.com/pistudio/pistudio/internal/units"
)

// roleRow is one role of the plan.
type roleRow struct {
	role     string
	sel      *formSelect
	why      *widget.Label
	bar      *widget.ProgressBar
	progress *widget.Label
}

// raidView is the RAID set section.
type raidView struct {
	g       *App
	content fyne.CanvasObject

	setSel   *formSelect
	setPaths map[string]string
	info     *widget.Label
	setErr   *widget.Label
	planBox  *fyne.Container
	planErr  *widget.Label
	notice   *widget.Label // "the disks changed" after a closed confirmation
	offer    *widget.Label // new disks the user may give a role
	provBtn  *widget.Button
	cancel   *widget.Button
	summary  *widget.Label

	disks   []disk.Disk
	dir     string          // the chosen set dir
	plan    *provision.Plan // nil until the set is read
	offered []disk.Disk     // new disks the plan does not use until chosen
	scanned bool            // a disk list has arrived
	blind   bool            // the plan was made before any disk list arrived
	rows    []*roleRow
	diskOpt map[string]string // display → path
	running bool
	syncing bool // rows are being set from the plan
	stop    context.CancelFunc
	confirm *eraseDialog
	// asked is the plan the open confirmation lists; only it is written.
	asked *provision.Plan
}

func newRaidView(g *App) *raidView {
	r := &raidView{g: g, setPaths: map[string]string{}, diskOpt: map[string]string{}}
	r.setSel = newFormSelect(nil, func(s string) {
		if p := r.setPaths[s]; p != "" && p != r.dir {
			r.selectSet(p)
		}
	})
	r.setSel.PlaceHolder = "Choose a RAID image set"
	browse := newFormButton("Browse…", theme.FolderOpenIcon(), func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err != nil {
				g.showError(err)
				return
			}
			if u != nil {
				r.selectSet(u.Path())
			}
		}, g.win)
		d.SetView(dialog.ListView) // whole names, not cut to a grid cell
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
	r.offer = wrapLabel("")
	r.offer.Importance = widget.HighImportance
	r.offer.Hide()
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
		container.NewVBox(r.offer, r.planBox, r.planErr))
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

type planResult struct {
	plan *provision.Plan
	err  error
}

// selectSet reads a set's manifest off the UI goroutine and plans it.
func (r *raidView) selectSet(dir string) {
	if r.running {
		return
	}
	if dir != r.dir {
		r.summary.SetText("") // the last set's result
		r.notice.Hide()
	}
	r.dir = dir
	n := setName(dir)
	if _, ok := r.setPaths[n]; !ok {
		r.setPaths[n] = dir
		r.setSel.Options = append([]string{n}, r.setSel.Options...)
	}
	r.setSel.SetSelected(n)
	disks, blind := r.disks, !r.scanned
	goUI(r.g.br, func() planResult {
		p, err := r.g.be.Raid.Plan(dir, disks)
		return planResult{p, err}
	}, func(res planResult) {
		if dir != r.dir || r.running {
			return
		}
		if res.err != nil {
			r.plan = nil
			r.setErr.SetText(setErrorText(dir, res.err))
			r.setErr.Show()
			if errors.Is(res.err, manifest.ErrNotImageSet) {
				r.dropSet(dir)
			}
			r.planBox.RemoveAll()
			r.rows = nil
			r.provBtn.Disable()
			return
		}
		r.setErr.Hide()
		m := res.plan.Manifest
		r.info.SetText(fmt.Sprintf("%s · %s of %d external disks + SD card · array %s", m.Name, m.Level, len(res.plan.Roles)-1, m.ArrayUUID))
		r.offered = nil
		r.blind = blind
		r.showPlan(res.plan)
		if !sameDisks(disks, r.disks) {
			r.applyDisks(r.disks)
		}
	})
}

// disksChanged takes a new disk list from the Flash section's watcher. A
// change while the confirmation is open closes it: what it lists may no
// longer be what would be written.
func (r *raidView) disksChanged(d []disk.Disk) {
	changed := !sameDisks(r.disks, d) || !r.scanned
	r.disks, r.scanned = d, true
	if !changed {
		return
	}
	if r.confirm != nil {
		r.confirm.close()
		r.confirm, r.asked = nil, nil
		r.notice.SetText("The disks changed: check the plan again. Nothing was written.")
		r.notice.Show()
	}
	if r.plan != nil && !r.running {
		r.applyDisks(d)
	}
}

// applyDisks gives the plan the disks it already knew that are still
// present: every choice stays while its disk is there, and a role whose
// disk left gets a proposal among the known disks. A new disk takes no
// role by itself: it is offered, and takes one when the user chooses it.
func (r *raidView) applyDisks(d []disk.Disk) {
	if r.blind && r.scanned {
		// The plan was made before the first scan: its disks are these.
		r.blind = false
		p := clonePlan(r.plan)
		p.SetDisks(d)
		r.offered = nil
		r.showPlan(p)
		return
	}
	known := map[string]disk.Disk{}
	for _, k := range r.plan.Disks() {
		known[k.Path] = k
	}
	var keep []disk.Disk
	r.offered = nil
	for _, x := range d {
		if k, ok := known[x.Path]; ok && k.Identity().Matches(x.Identity()) {
			keep = append(keep, x)
		} else if x.Eligible {
			r.offered = append(r.offered, x)
		}
	}
	p := clonePlan(r.plan)
	p.SetDisks(keep)
	r.showPlan(p)
}

// isOffered reports whether path is a new disk the plan does not use yet.
func (r *raidView) isOffered(path string) (disk.Disk, bool) {
	for _, d := range r.offered {
		if d.Path == path {
			return d, true
		}
	}
	return disk.Disk{}, false
}

// showOffer tells about the new disks the user may give a role.
func (r *raidView) showOffer() {
	if len(r.offered) == 0 {
		r.offer.Hide()
		return
	}
	var names []string
	for _, d := range r.offered {
		names = append(names, diskLine(d))
	}
	r.offer.SetText("New: " + strings.Join(names, "; ") + ". It takes no role until you choose it in a role's list.")
	r.offer.Show()
}

// sameDisks reports whether two disk lists show the same disks.
func sameDisks(a, b []disk.Disk) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Path != y.Path || x.Name != y.Name || x.SizeBytes != y.SizeBytes || x.Model != y.Model || x.Eligible != y.Eligible ||
			x.NeedsTypedConfirm != y.NeedsTypedConfirm || x.Reason != y.Reason || !x.Identity().Matches(y.Identity()) {
			return false
		}
	}
	return true
}

// clonePlan copies a plan so that changing the copy's roles leaves the
// original (which an open confirmation may list) as it was.
func clonePlan(p *provision.Plan) *provision.Plan {
	cp := *p
	cp.Roles = append([]provision.RoleAssignment(nil), p.Roles...)
	return &cp
}

// roleWhy says why a role has its disk, or why it has none.
func roleWhy(ra provision.RoleAssignment) string {
	switch {
	case ra.Chosen:
		return "chosen by you"
	case ra.Disk == nil:
		return ra.Problem
	}
	return ra.Reason
}

// showPlan shows one row per role of a plan.
func (r *raidView) showPlan(p *provision.Plan) {
	r.plan = p
	r.diskOpt = map[string]string{}
	r.planBox.RemoveAll()
	r.rows = nil
	grid := container.New(layout.NewFormLayout())
	for i, a := range p.Roles {
		row := &roleRow{role: a.Role, why: hintLabel(roleWhy(a)), bar: widget.NewProgressBar(), progress: widget.NewLabel("")}
		row.bar.Hide()
		row.progress.Hide()
		row.sel = newFormSelect(r.roleOptions(a.ArtifactSize), func(s string) {
			if r.running || r.syncing {
				return
			}
			r.assign(i, r.diskOpt[s])
		})
		row.sel.PlaceHolder = "(no disk)"
		label := fmt.Sprintf("%s\n%s, %s", a.Role, a.Artifact, units.Decimal(a.ArtifactSize))
		grid.Add(widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		grid.Add(container.NewVBox(row.sel, row.why, row.bar, row.progress))
		r.rows = append(r.rows, row)
	}
	r.planBox.Add(grid)
	r.planBox.Refresh()
	r.syncRows()
	r.showOffer()
	r.check()
}

// assign applies the user's choice for row i through the flash package's
// plan (on a copy), which may re-propose other roles; a refused choice is
// shown and the rows go back to the plan.
func (r *raidView) assign(i int, path string) {
	p := clonePlan(r.plan)
	role := p.Roles[i].Role
	if d, ok := r.isOffered(path); ok {
		p.SetDisks(append(p.Disks(), d))
	}
	var err error
	if path == "" {
		err = p.Unassign(role)
	} else {
		err = p.Assign(role, path)
	}
	if err != nil {
		r.syncRows()
		r.planErr.SetText(assignError(role, err))
		r.planErr.Show()
		return
	}
	r.plan = p
	if _, ok := r.isOffered(path); ok {
		r.offered = slices.DeleteFunc(r.offered, func(d disk.Disk) bool { return d.Path == path })
		r.showPlan(p) // the option loses its "(new)"
		return
	}
	r.syncRows()
	r.check()
}

// syncRows shows the plan's disk and reason in every row.
func (r *raidView) syncRows() {
	r.syncing = true
	defer func() { r.syncing = false }()
	for i, row := range r.rows {
		if i >= len(r.plan.Roles) {
			break
		}
		a := r.plan.Roles[i]
		sel := ""
		for _, n := range row.sel.Options {
			if a.Disk != nil && r.diskOpt[n] == a.Disk.Path {
				sel = n
			}
		}
		if sel == "" {
			row.sel.ClearSelected()
		} else {
			row.sel.SetSelected(sel)
		}
		row.why.SetText(roleWhy(a))
	}
}

// check asks the flash package whether the plan can be written.
func (r *raidView) check() {
	if r.plan == nil {
		r.provBtn.Disable()
		return
	}
	err := r.plan.Ready()
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

func (r *raidView) planDisks(p *provision.Plan) []disk.Disk {
	var out []disk.Disk
	for _, a := range p.Roles {
		if a.Disk == nil {
			continue
		}
		for _, d := range r.disks {
			if d.Path == a.Disk.Path {
				d.Model, d.Vendor = a.Role+" → "+diskModel(d), ""
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
	if r.plan == nil || r.running || r.confirm != nil {
		return
	}
	if err := r.plan.Ready(); err != nil {
		r.g.showError(err)
		return
	}
	r.notice.Hide()
	plan := clonePlan(r.plan)
	r.asked = plan
	m := plan.Manifest
	intro := fmt.Sprintf("Write the %s set %q (%d disks):", m.Level, m.Name, len(plan.Roles))
	var ed *eraseDialog
	ed = r.g.confirmErase("Provision RAID set?", intro, r.planDisks(plan), planRoles(plan), func(typed map[string]string) {
		if r.confirm != ed || r.asked == nil || r.running {
			return // invalidated by a disk change
		}
		asked := r.asked
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

func (r *raidView) provision(plan *provision.Plan, typed map[string]string) {
	ctx, cancel := context.WithCancel(r.g.ctx)
	r.stop = cancel
	r.running = true
	r.provBtn.Disable()
	r.cancel.Enable()
	r.summary.SetText("Provisioning…")
	throttles := map[string]*throttle[flash.Progress]{}
	for _, row := range r.rows {
		row := row
		row.sel.Disable()
		row.bar.SetValue(0)
		row.bar.Show()
		row.progress.SetText("waiting")
		row.progress.Show()
		throttles[row.role] = newThrottle(r.g.br, 100*time.Millisecond, func(p flash.Progress) {
			if !r.running {
				return
			}
			row.bar.SetValue(progressFraction(p))
			row.progress.SetText(progressText(p))
		})
	}
	verify := r.g.set.Verify
	after := r.g.custom.raidAfter(plan)
	goUI(r.g.br, func() provResult {
		res, err := r.g.be.Raid.Provision(ctx, plan, provision.Options{
			NoVerify:      !verify,
			Confirmations: typed,
			After:         after,
			Progress: func(ev provision.Event) {
				if t := throttles[ev.Role]; t != nil {
					t.Set(ev.Progress)
				}
			},
		})
		return provResult{res, err}
	}, func(p provResult) { r.finish(p, cancel) })
}

type provResult struct {
	res *provision.Summary
	err error
}

func (r *raidView) finish(p provResult, cancel context.CancelFunc) {
	r.running = false
	cancel()
	r.stop = nil
	r.cancel.Disable()
	var targets []provision.Result
	if p.res != nil {
		targets = p.res.Targets
	}
	var lines []string
	failed := 0
	for _, t := range targets {
		if !r.showTarget(t) {
			failed++
		}
		lines = append(lines, targetLine(t))
	}
	for _, row := range r.rows {
		row.sel.Enable()
	}
	head := fmt.Sprintf("All %d disks written.", len(targets))
	var setErr *provision.SetError
	switch {
	case errors.Is(p.err, context.Canceled):
		head = "Cancelled. Disks that were not finished hold no valid image."
	case errors.As(p.err, &setErr) || (p.err == nil && failed > 0):
		head = fmt.Sprintf("%d of %d disks failed.", failed, len(targets))
	case p.err != nil:
		head = "Provisioning failed: " + p.err.Error()
	}
	r.summary.SetText(head + "\n" + strings.Join(lines, "\n"))
	r.g.notify(Title, head)
	r.check()
	r.g.workStopped()
}

// showTarget shows how one role ended in its row; it reports success.
func (r *raidView) showTarget(t provision.Result) bool {
	ok := t.State == provision.Done
	for _, row := range r.rows {
		if row.role != t.Role {
			continue
		}
		if ok {
			row.bar.SetValue(1)
			row.progress.SetText("Done, hash " + t.Hash())
			row.progress.Importance = widget.SuccessImportance
		} else {
			row.progress.SetText("Failed: " + targetErr(t))
			row.progress.Importance = widget.DangerImportance
		}
		row.progress.Refresh()
	}
	return ok
}

// targetErr says why a target did not finish.
func targetErr(t provision.Result) string {
	if t.Error != "" {
		return t.Error
	}
	return string(t.State)
}

// targetLine is one role's line of the summary.
func targetLine(t provision.Result) string {
	if t.State != provision.Done {
		return fmt.Sprintf("%s → %s: failed: %s", t.Role, t.Device, targetErr(t))
	}
	v := ""
	if t.Verified {
		v = " verified"
	}
	return fmt.Sprintf("%s → %s: %s written in %s,%s hash %s", t.Role, t.Device, units.Decimal(t.Written), humanDuration(t.Duration), v, t.Hash())
}

// roleOptions lists the eligible disks for a role whose image has size
// bytes: "/dev/sdb — Samsung BAR Plus 64.0 GB · serial 0374…", marked
// (new) when the plan does not use it yet and "too small" when it cannot
// hold the image (the plan refuses it).
func (r *raidView) roleOptions(size int64) []string {
	var opts []string
	for _, d := range r.disks {
		if !d.Eligible {
			continue
		}
		n := fmt.Sprintf("%s — %s %s", d.Path, diskModel(d), units.Decimal(d.SizeBytes))
		if d.Serial != "" {
			n += " · serial " + d.Serial
		}
		if _, ok := r.isOffered(d.Path); ok {
			n += " (new)"
		}
		if d.SizeBytes < size {
			n += " — too small"
		}
		r.diskOpt[n] = d.Path
		opts = append(opts, n)
	}
	return opts
}

// assignError says why a choice was refused, with sizes in the units the
// lists use.
func assignError(role string, err error) string {
	var small *flash.TooSmallError
	if errors.As(err, &small) {
		return fmt.Sprintf("%s is too small for %s: %s, the image needs %s", small.Path, role,
			units.Decimal(small.DeviceSize), units.Decimal(small.ImageSize))
	}
	return err.Error()
}

// planRoles maps the disks of a plan to their roles, by path.
func planRoles(p *provision.Plan) map[string]string {
	out := map[string]string{}
	for _, a := range p.Roles {
		if a.Disk != nil {
			out[a.Disk.Path] = a.Role
		}
	}
	return out
}

// setErrorText says why a folder cannot be provisioned, in words for the
// user when it is no image set at all.
func setErrorText(dir string, err error) string {
	if errors.Is(err, manifest.ErrNotImageSet) {
		return filepath.Base(dir) + " is not an image set: it has no image.json. Choose the folder a RAID build wrote (image-<name> in the work folder)."
	}
	return err.Error()
}

// dropSet removes a folder that is not an image set from the set list.
func (r *raidView) dropSet(dir string) {
	n := setName(dir)
	delete(r.setPaths, n)
	r.setSel.Options = slices.DeleteFunc(r.setSel.Options, func(o string) bool { return o == n })
	r.setSel.ClearSelected()
	r.dir = ""
	r.planBox.RemoveAll()
	r.rows = nil
	r.provBtn.Disable()
}
