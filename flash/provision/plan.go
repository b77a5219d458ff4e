// Package provision writes a whole disk set — the SD card and the external
// RAID members of an image set built by package image — in one go.
//
// Propose reads the set's manifest (image.json) and proposes a disk for every
// role among the eligible disks: the SD card role goes to an SD card slot or
// USB card reader, else to the smallest removable disk that fits; every
// external role goes to the smallest free USB disk that fits. Each choice
// carries the reason it was made, each role left empty says why. The user may
// override any choice (Plan.Assign), which is validated again.
//
// Run writes every target at once, each with its own decoder and pipeline
// (one flash.Write per target), so the set takes the time of its slowest
// disk. A failing target does not stop the others; the set then fails and
// names the disk and the reason. Cancelling stops every write and leaves no
// target with a valid partition table.
//
// # Several sets
//
// ProposeSets proposes N copies of one set for N machines (Sets), each an
// ordinary Plan on disks of its own: no disk, nor another node of its
// medium, goes to two sets. RunSets writes them all at once; each set is
// written as Run writes it, and a failing set stops no other.
//
// # Preparing a target
//
// An old RAID member or GPT disk can confuse the array at boot: md scans the
// whole disk for superblocks (v1.1 at byte 0, v1.2 at 4 KiB, v0.90 64 KiB
// before the 64 KiB-aligned end, v1.0 8 KiB before the 4 KiB-aligned end) and
// firmware finds a GPT backup header in the last sector. flash.Write zeroes
// the first and the last MiB of a disk right after its guards pass and before
// writing a byte, which covers every one of these locations; the first MiB is
// written last. Run reads the target back afterwards, bypassing the page
// cache, and fails the target if any such signature survived past the end of
// the image (see SignatureRegions and CheckClean).
package provision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Role names of a RAID set.
const (
	// RoleSD is the SD card holding the boot partition.
	RoleSD = "sd"
	// RoleExternalPrefix starts the role of every external member:
	// "external1", "external2", ...
	RoleExternalPrefix = "external"
)

// BusFile is the Bus of the pseudo disk standing for a regular file target.
const BusFile = "file"

// Errors callers can match with errors.Is.
var (
	// ErrUnknownRole is returned for a role the set does not have.
	ErrUnknownRole = errors.New("the set has no such role")
	// ErrNotReady is matched by *NotReadyError.
	ErrNotReady = errors.New("the plan is not ready")
	// ErrInUse is matched by *InUseError.
	ErrInUse = errors.New("disk already chosen for another role")
	// ErrSet means the set directory or its manifest cannot be provisioned.
	ErrSet = errors.New("not a usable image set")
)

// InUseError refuses a disk the user already chose for another role.
type InUseError struct {
	// Path is the disk, Role the role it is chosen for.
	Path, Role string
}

// Error implements error.
func (e *InUseError) Error() string {
	return fmt.Sprintf("%s is already chosen for %s: a disk can hold only one role", e.Path, e.Role)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(t error) bool { return t == ErrInUse }

// NotReadyError lists the roles that cannot be written yet.
type NotReadyError struct {
	// Problems holds one "role: why" line per unfilled role.
	Problems []string
	// Err, when set, is the typed error behind a problem: a
	// *disk.SameMediumError for two targets that are one medium.
	Err error
}

// Error implements error.
func (e *NotReadyError) Error() string {
	return "cannot write the set: " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrNotReady) true.
func (e *NotReadyError) Is(t error) bool { return t == ErrNotReady }

// Unwrap returns Err.
func (e *NotReadyError) Unwrap() error { return e.Err }

// RoleAssignment is one role of the set and the disk proposed or chosen for it.
type RoleAssignment struct {
	// Role is "sd", "external1", ...
	Role string `json:"role"`
	// Artifact is the image file (inside the set directory) written to the disk.
	Artifact string `json:"artifact"`
	// ArtifactSize is the expanded size of the image in bytes: the least a
	// disk must hold.
	ArtifactSize int64 `json:"artifact_size"`
	// SHA256 is the image's hex SHA-256 from the manifest ("" if unknown).
	SHA256 string `json:"sha256,omitempty"`
	// Disk is the target, nil when none could be found. A regular file
	// target is a pseudo disk with Bus "file".
	Disk *disk.Disk `json:"disk,omitempty"`
	// Chosen is true when the user picked the disk (Assign, AssignFile).
	Chosen bool `json:"chosen"`
	// Reason explains why Disk was picked.
	Reason string `json:"reason,omitempty"`
	// Problem says why no disk was found; empty when Disk is set.
	Problem string `json:"problem,omitempty"`
}

// IsFile reports whether the target is a regular file rather than a disk.
func (r RoleAssignment) IsFile() bool { return r.Disk != nil && r.Disk.Bus == BusFile }

// Plan maps every role of an image set to a disk.
type Plan struct {
	// Set is the set directory holding image.json and the images.
	Set string `json:"set"`
	// Manifest is the set's image.json.
	Manifest *manifest.Manifest `json:"-"`
	// Roles are the set's roles: "sd" first, then external1, external2, ...
	Roles []RoleAssignment `json:"roles"`

	disks []disk.Disk
}

// Propose reads the roles of the set in setDir (described by m, normally
// manifest.Read(setDir)) and proposes a disk for each among disks (a
// disk.Scan result; only eligible ones are used). It fails only when the set
// itself is unusable; roles it cannot fill carry a Problem (see Ready).
func Propose(m *manifest.Manifest, setDir string, disks []disk.Disk) (*Plan, error) {
	if m == nil || len(m.Roles) == 0 {
		return nil, fmt.Errorf("%s: %w: the manifest names no disk roles", setDir, ErrSet)
	}
	p := &Plan{Set: setDir, Manifest: m, disks: append([]disk.Disk(nil), disks...)}
	for _, role := range sortRoles(m.Roles) {
		file := m.Roles[role]
		if file == "" || filepath.Base(file) != file {
			return nil, fmt.Errorf("%s: %w: role %s names the file %q", setDir, ErrSet, role, file)
		}
		st, err := os.Stat(filepath.Join(setDir, file))
		if err != nil {
			return nil, fmt.Errorf("%w: role %s: %w", ErrSet, role, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w: %s is not a regular file", setDir, ErrSet, file)
		}
		src, err := source.Open(filepath.Join(setDir, file))
		if err != nil {
			return nil, fmt.Errorf("%w: role %s: %w", ErrSet, role, err)
		}
		ra := RoleAssignment{Role: role, Artifact: file, ArtifactSize: src.Size()}
		src.Close()
		if a := m.Artifact(file); a != nil {
			if a.Size != st.Size() {
				return nil, fmt.Errorf("%s: %w: %s is %d bytes but image.json says %d: the set was changed after it was built",
					setDir, ErrSet, file, st.Size(), a.Size)
			}
			ra.SHA256 = a.SHA256
		}
		p.Roles = append(p.Roles, ra)
	}
	p.Fill()
	return p, nil
}

// sortRoles orders roles: "sd" first, then by name with numbers compared
// as numbers (external2 before external10).
func sortRoles(roles map[string]string) []string {
	out := make([]string, 0, len(roles))
	for r := range roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return roleLess(out[i], out[j]) })
	return out
}

func roleLess(a, b string) bool {
	if (a == RoleSD) != (b == RoleSD) {
		return a == RoleSD
	}
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

// Disks returns the disks the plan chooses from.
func (p *Plan) Disks() []disk.Disk { return append([]disk.Disk(nil), p.disks...) }

// SetDisks replaces the disks the plan chooses from (after a new scan, or
// a disk came or went) and proposes again. A user's choice is kept while
// its disk is still listed, eligible and large enough; it is dropped
// otherwise. File targets are kept.
func (p *Plan) SetDisks(disks []disk.Disk) {
	p.disks = append([]disk.Disk(nil), disks...)
	for i := range p.Roles {
		ra := &p.Roles[i]
		if !ra.Chosen || ra.IsFile() || ra.Disk == nil {
			continue
		}
		d := p.find(ra.Disk.Path)
		if d == nil || !d.Eligible || d.SizeBytes < ra.ArtifactSize || !ra.Disk.Identity().Matches(d.Identity()) {
			ra.Chosen, ra.Disk = false, nil
			continue
		}
		cp := *d
		ra.Disk = &cp
	}
	p.Fill()
}

// Role returns the assignment of role, or nil.
func (p *Plan) Role(role string) *RoleAssignment {
	for i := range p.Roles {
		if p.Roles[i].Role == role {
			return &p.Roles[i]
		}
	}
	return nil
}

// Fill (re)proposes a disk for every role the user has not chosen, keeping
// the user's choices. Propose calls it; Assign and Unassign call it again.
func (p *Plan) Fill() {
	used := map[string]string{}
	for _, ra := range p.Roles {
		if ra.Chosen && ra.Disk != nil {
			used[ra.Disk.Path] = ra.Role
		}
	}
	for i := range p.Roles {
		ra := &p.Roles[i]
		if ra.Chosen {
			continue
		}
		ra.Disk, ra.Reason, ra.Problem = nil, "", ""
		p.fillRole(ra, used)
	}
}

// fillRole proposes a disk for ra among p's disks not in used (path →
// role), and marks it used; with none fit, ra says why.
func (p *Plan) fillRole(ra *RoleAssignment, used map[string]string) {
	d, reason, problem := p.pick(ra, used)
	if d == nil {
		ra.Problem = problem
		return
	}
	cp := *d
	ra.Disk, ra.Reason = &cp, reason+notes(d)
	used[d.Path] = ra.Role
}

// tier is one class of candidates for a role, tried in order.
type tier struct {
	match func(d *disk.Disk) bool
	why   func(d *disk.Disk, need int64) string
}

func roleKind(role string) string {
	switch {
	case role == RoleSD:
		return RoleSD
	case strings.HasPrefix(role, RoleExternalPrefix):
		return RoleExternalPrefix
	}
	return ""
}

func (p *Plan) tiers(role string) []tier {
	fits := func(d *disk.Disk, need int64) string {
		return fmt.Sprintf("%s of %s needed", human(d.SizeBytes), human(need))
	}
	switch roleKind(role) {
	case RoleSD:
		return []tier{
			{isCardReader, func(d *disk.Disk, need int64) string {
				if d.Bus == "mmc" {
					return fmt.Sprintf("%s is an SD card slot (%s)", d.Path, fits(d, need))
				}
				return fmt.Sprintf("%s is a card reader (%s, %s)", d.Path, describe(d), fits(d, need))
			}},
			{func(d *disk.Disk) bool { return d.Removable }, func(d *disk.Disk, need int64) string {
				return fmt.Sprintf("no SD card reader with a card that fits; %s (%s) is the smallest removable disk that fits (%s)", d.Path, describe(d), fits(d, need))
			}},
			{isRemovable, func(d *disk.Disk, need int64) string {
				return fmt.Sprintf("no SD card reader or removable stick fits; %s (%s, bus %s) is the smallest removable disk that fits (%s)", d.Path, describe(d), orDash(d.Bus), fits(d, need))
			}},
			{func(d *disk.Disk) bool { return true }, func(d *disk.Disk, need int64) string {
				return fmt.Sprintf("no SD card reader or removable disk fits; %s (%s, bus %s) is the smallest other eligible disk that fits (%s)", d.Path, describe(d), orDash(d.Bus), fits(d, need))
			}},
		}
	case RoleExternalPrefix:
		return []tier{
			{func(d *disk.Disk) bool { return d.Bus == "usb" && !isCardReader(d) }, func(d *disk.Disk, need int64) string {
				return fmt.Sprintf("%s (%s) is the smallest free USB disk that fits (%s)", d.Path, describe(d), fits(d, need))
			}},
			{func(d *disk.Disk) bool { return !isCardReader(d) }, func(d *disk.Disk, need int64) string {
				return fmt.Sprintf("no free USB disk fits; %s (%s, bus %s) is the smallest other eligible disk that fits (%s)", d.Path, describe(d), orDash(d.Bus), fits(d, need))
			}},
		}
	}
	return []tier{{func(d *disk.Disk) bool { return true }, func(d *disk.Disk, need int64) string {
		return fmt.Sprintf("%s (%s) is the smallest free eligible disk that fits (%s)", d.Path, describe(d), fits(d, need))
	}}}
}

// pick chooses a disk for ra among the free eligible disks.
func (p *Plan) pick(ra *RoleAssignment, used map[string]string) (*disk.Disk, string, string) {
	var free []*disk.Disk
	eligible := 0
	for i := range p.disks {
		d := &p.disks[i]
		if !d.Eligible || d.SizeBytes <= 0 {
			continue
		}
		eligible++
		if _, ok := used[d.Path]; !ok && !p.sameAsUsed(d, used) {
			free = append(free, d)
		}
	}
	sort.SliceStable(free, func(i, j int) bool {
		if free[i].SizeBytes != free[j].SizeBytes {
			return free[i].SizeBytes < free[j].SizeBytes
		}
		return free[i].Path < free[j].Path
	})
	tiers := p.tiers(ra.Role)
	var kinds []*disk.Disk // free disks of any tier
	for _, t := range tiers {
		for _, d := range free {
			if !t.match(d) {
				continue
			}
			if d.SizeBytes >= ra.ArtifactSize {
				return d, t.why(d, ra.ArtifactSize), ""
			}
		}
	}
	for _, d := range free {
		for _, t := range tiers {
			if t.match(d) {
				kinds = append(kinds, d)
				break
			}
		}
	}
	need := fmt.Sprintf("%s (%d bytes)", human(ra.ArtifactSize), ra.ArtifactSize)
	switch {
	case eligible == 0:
		return nil, "", fmt.Sprintf("no eligible disk is connected (%d disks found, all protected); connect a disk of at least %s", len(p.disks), need)
	case len(kinds) == 0 && len(free) == 0:
		return nil, "", fmt.Sprintf("only %d eligible disks for %d roles: every one is taken by another role; connect another disk of at least %s", eligible, len(p.Roles), need)
	case len(kinds) == 0:
		return nil, "", fmt.Sprintf("no free disk suits this role (%d free eligible disks, none usable for %s); connect a disk of at least %s", len(free), ra.Role, need)
	}
	big := kinds[len(kinds)-1]
	return nil, "", fmt.Sprintf("no free disk is big enough: %s needs %s, the largest free one is %s (%s, %s)",
		ra.Artifact, need, big.Path, describe(big), human(big.SizeBytes))
}

// sameAsUsed reports whether d is one medium with a disk already used.
func (p *Plan) sameAsUsed(d *disk.Disk, used map[string]string) bool {
	for _, ra := range p.Roles {
		if ra.Disk == nil || ra.IsFile() || used[ra.Disk.Path] == "" {
			continue
		}
		if same, _ := disk.SameMedium(*ra.Disk, *d); same {
			return true
		}
	}
	return false
}

// notes tells what the user must know about an eligible disk before it is
// written: mounted partitions and the typed confirmation of large disks.
func notes(d *disk.Disk) string {
	var out []string
	var mps []string
	for _, p := range d.Partitions {
		mps = append(mps, p.MountPoints...)
	}
	if len(mps) > 0 {
		out = append(out, fmt.Sprintf("mounted at %s: it is unmounted only when allowed", strings.Join(mps, ", ")))
	}
	if d.NeedsTypedConfirm {
		out = append(out, fmt.Sprintf("larger than %s: its name must be typed to confirm", human(disk.TypedConfirmBytes)))
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// isCardReader reports an SD card slot or a USB card reader.
func isCardReader(d *disk.Disk) bool {
	if d.Bus == "mmc" {
		return true
	}
	if d.Bus != "usb" {
		return false
	}
	words := strings.FieldsFunc(strings.ToLower(d.Vendor+" "+d.Model), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	// Genesys Logic readers, the most common, say "Generic STORAGE DEVICE".
	if j := strings.Join(words, " "); strings.Contains(j, "generic") && strings.Contains(j, "storage device") {
		return true
	}
	for i, w := range words {
		switch w {
		case "sd", "sdhc", "sdxc", "microsd", "mmc", "cardreader", "multicard", "reader":
			return true
		case "card":
			if i+1 < len(words) && words[i+1] == "reader" {
				return true
			}
		}
	}
	return false
}

// isRemovable is the rpi-imager rule: the removable flag, or a USB or MMC
// disk. Disks with the flag (sticks) are tried first, so that a USB hard
// disk stays free for an external role.
func isRemovable(d *disk.Disk) bool {
	return d.Removable || d.Bus == "usb" || d.Bus == "mmc"
}

// Assign makes diskPath (a device node such as "/dev/sdb", a symlink to
// one such as /dev/disk/by-id/..., or a kernel name "sdb") the target of role, by the user's choice. The disk must be one
// of the plan's disks, eligible, large enough and not chosen by the user for
// another role; a role that had it only by proposal gets another proposal.
// The writer's guards still run at write time.
func (p *Plan) Assign(role, diskPath string) error {
	ra := p.Role(role)
	if ra == nil {
		return fmt.Errorf("%q: %w", role, ErrUnknownRole)
	}
	d := p.find(diskPath)
	if d == nil && strings.HasPrefix(diskPath, "/") {
		// A stable name such as /dev/disk/by-id/usb-... names its node.
		if real, err := filepath.EvalSymlinks(diskPath); err == nil {
			d = p.find(real)
		}
	}
	if d == nil {
		return fmt.Errorf("%s: %w", diskPath, disk.ErrNotFound)
	}
	if !d.Eligible {
		return &disk.ProtectedError{Path: d.Path, Reason: d.Reason}
	}
	if d.SizeBytes < ra.ArtifactSize {
		return &flash.TooSmallError{Path: d.Path, ImageSize: ra.ArtifactSize, DeviceSize: d.SizeBytes}
	}
	if err := p.checkUnused(role, d.Path); err != nil {
		return err
	}
	if err := p.checkMedium(role, d); err != nil {
		return err
	}
	cp := *d
	ra.Disk, ra.Chosen, ra.Problem = &cp, true, ""
	ra.Reason = fmt.Sprintf("chosen by the user: %s (%s, %s)", d.Path, describe(d), human(d.SizeBytes)) + notes(d)
	p.Fill()
	return nil
}

// find returns the plan's disk with that device node or kernel name.
func (p *Plan) find(name string) *disk.Disk {
	for i := range p.disks {
		if p.disks[i].Path == name || p.disks[i].Name == name {
			return &p.disks[i]
		}
	}
	return nil
}

func (p *Plan) checkUnused(role, path string) error {
	for _, o := range p.Roles {
		if o.Role != role && o.Chosen && o.Disk != nil && o.Disk.Path == path {
			return &InUseError{Path: path, Role: o.Role}
		}
	}
	return nil
}

// checkMedium refuses d for role when it is one medium with a disk chosen
// by the user for another role (disk.SameMedium).
func (p *Plan) checkMedium(role string, d *disk.Disk) error {
	for _, o := range p.Roles {
		if o.Role == role || !o.Chosen || o.Disk == nil || o.IsFile() {
			continue
		}
		if same, why := disk.SameMedium(*o.Disk, *d); same {
			return &disk.SameMediumError{A: o.Disk.Path, B: d.Path, Why: why + ", chosen for " + o.Role}
		}
	}
	return nil
}

// AssignFile makes the regular file path the target of role (for scripts
// and tests): the image is expanded into it. path must not be a block
// device, nor one of the set's own files (image.json or an artifact, by
// identity, so links are caught too).
func (p *Plan) AssignFile(role, path string) error {
	ra := p.Role(role)
	if ra == nil {
		return fmt.Errorf("%q: %w", role, ErrUnknownRole)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(abs)
	if err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (disks are chosen with Assign)", path)
	}
	if err == nil && p.Manifest != nil {
		own := []string{manifest.File}
		for _, a := range p.Manifest.Artifacts {
			own = append(own, a.File)
		}
		for _, f := range own {
			if o, err := os.Stat(filepath.Join(p.Set, f)); err == nil && os.SameFile(o, st) {
				return fmt.Errorf("refusing to write onto the set's own file %s", f)
			}
		}
	}
	if err := p.checkUnused(role, abs); err != nil {
		return err
	}
	ra.Disk = &disk.Disk{Name: filepath.Base(abs), Path: abs, Bus: BusFile, Model: "regular file", Eligible: true}
	ra.Chosen, ra.Problem = true, ""
	ra.Reason = "chosen by the user: the regular file " + abs
	p.Fill()
	return nil
}

// Unassign drops the user's choice for role and proposes a disk again.
func (p *Plan) Unassign(role string) error {
	ra := p.Role(role)
	if ra == nil {
		return fmt.Errorf("%q: %w", role, ErrUnknownRole)
	}
	ra.Chosen = false
	p.Fill()
	return nil
}

// Ready returns nil when every role has a target, else a *NotReadyError
// naming each empty role and why.
func (p *Plan) Ready() error {
	var probs []string
	seen := map[string]string{}
	for _, ra := range p.Roles {
		switch {
		case ra.Disk == nil && ra.Problem != "":
			probs = append(probs, ra.Role+": "+ra.Problem)
		case ra.Disk == nil:
			probs = append(probs, ra.Role+": no disk chosen")
		case seen[ra.Disk.Path] != "":
			probs = append(probs, fmt.Sprintf("%s: %s is also chosen for %s", ra.Role, ra.Disk.Path, seen[ra.Disk.Path]))
		default:
			seen[ra.Disk.Path] = ra.Role
		}
	}
	if len(p.Roles) == 0 {
		probs = append(probs, "the set has no roles")
	}
	var err error
	if len(probs) == 0 {
		if err = distinct(p.Roles, nil); err != nil {
			probs = append(probs, err.Error())
		}
	}
	if len(probs) > 0 {
		return &NotReadyError{Problems: probs, Err: err}
	}
	return nil
}

// String renders the plan as a table for people.
func (p *Plan) String() string {
	var b strings.Builder
	m := p.Manifest
	fmt.Fprintf(&b, "Set %s", p.Set)
	if m != nil {
		fmt.Fprintf(&b, ": %s", m.Name)
		if m.Level != "" {
			fmt.Fprintf(&b, ", %s of %d disks, array %s", m.Level, m.Devices, m.ArrayUUID)
		}
	}
	b.WriteString("\n")
	for _, ra := range p.Roles {
		fmt.Fprintf(&b, "  %-10s %-16s %9s  ", ra.Role, ra.Artifact, human(ra.ArtifactSize))
		if ra.Disk == nil {
			fmt.Fprintf(&b, "NO DISK: %s\n", ra.Problem)
			continue
		}
		d := ra.Disk
		if ra.IsFile() {
			fmt.Fprintf(&b, "→ %s (file)\n", d.Path)
		} else {
			fmt.Fprintf(&b, "→ %s  %s  %s  %s\n", d.Path, describe(d), human(d.SizeBytes), orDash(d.Bus))
		}
		fmt.Fprintf(&b, "  %-10s %s\n", "", ra.Reason)
	}
	return b.String()
}

func describe(d *disk.Disk) string {
	m := strings.TrimSpace(d.Vendor + " " + d.Model)
	if d.Vendor != "" && strings.HasPrefix(d.Model, d.Vendor) {
		m = d.Model
	}
	return orDash(m)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func human(n int64) string { return flash.HumanBytes(n) }
