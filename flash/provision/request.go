package provision

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Request is what a user named for a set: the SD card and external disks
// (or files), and whether the names alone confirm the write (--yes). The
// command line and the GUI both hand theirs to Plan.Apply.
type Request struct {
	// SD is the disk (or file) for the SD card role ("" = the proposal).
	SD string
	// Externals are the disks for external1, external2, … in order; ""
	// leaves that role to the proposal.
	Externals []string
	// AllowFiles lets a path that is a regular file, or that does not
	// exist, be written as a file (scripts and tests).
	AllowFiles bool
	// Yes means the named disks are the confirmation.
	Yes bool
}

// Errors of Apply and CheckYes. Usage errors are the caller's to report
// as such (a wrong count or an incomplete --yes); a refused path is a
// *RoleError.
var (
	// ErrTooManyExternals: more external disks named than roles.
	ErrTooManyExternals = errors.New("too many external disks")
	// ErrYesUnnamed: --yes with a role whose disk was only proposed.
	ErrYesUnnamed = errors.New("--yes needs every disk named")
	// ErrFileNotDisk: a regular file named without AllowFiles.
	ErrFileNotDisk = errors.New("a regular file, not a disk")
)

// RoleError says why the path named for a role was refused.
type RoleError struct {
	// Role is the role ("sd", "external1").
	Role string
	// Path is the disk or file named.
	Path string
	// File is true when the path was taken as a file target.
	File bool
	// Err is the reason.
	Err error
}

func (e *RoleError) Error() string { return fmt.Sprintf("%s: %v", e.Role, e.Err) }

// Unwrap returns the reason.
func (e *RoleError) Unwrap() error { return e.Err }

// SplitList splits repeated, comma-separated values into a list without
// blanks.
func SplitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				out = append(out, d)
			}
		}
	}
	return out
}

// ExternalRoles lists the plan's external roles in order.
func (p *Plan) ExternalRoles() []string {
	var out []string
	for _, ra := range p.Roles {
		if strings.HasPrefix(ra.Role, RoleExternalPrefix) {
			out = append(out, ra.Role)
		}
	}
	return out
}

// Named maps each role to the path the request named for it.
func (p *Plan) Named(r Request) map[string]string {
	out := map[string]string{}
	if r.SD != "" {
		out[RoleSD] = r.SD
	}
	ext := p.ExternalRoles()
	for i, d := range r.Externals {
		if i < len(ext) && d != "" {
			out[ext[i]] = d
		}
	}
	return out
}

// Apply assigns what r names to the plan's roles: a block device (or a
// disk name) is a disk; a regular file is a file target only when
// AllowFiles, and so is a path that does not exist and names no known
// disk.
func (p *Plan) Apply(r Request) error {
	if ext := p.ExternalRoles(); len(r.Externals) > len(ext) {
		return fmt.Errorf("%w: %d external disks given, the set has %d external roles", ErrTooManyExternals, len(r.Externals), len(ext))
	}
	named := p.Named(r)
	for _, ra := range p.Roles {
		if path, ok := named[ra.Role]; ok {
			if err := p.applyOne(ra.Role, path, r.AllowFiles); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Plan) applyOne(role, path string, allowFiles bool) error {
	st, err := os.Stat(path)
	isFile := err == nil && st.Mode().IsRegular()
	if isFile && !allowFiles {
		return &RoleError{Role: role, Path: path, File: true, Err: fmt.Errorf("%s is %w", path, ErrFileNotDisk)}
	}
	if isFile || (errors.Is(err, os.ErrNotExist) && !p.knows(path) && allowFiles) {
		if err := p.AssignFile(role, path); err != nil {
			return &RoleError{Role: role, Path: path, File: true, Err: err}
		}
		return nil
	}
	if err := p.Assign(role, path); err != nil {
		return &RoleError{Role: role, Path: path, Err: err}
	}
	return nil
}

// knows reports whether path names a disk of the plan's scan.
func (p *Plan) knows(path string) bool {
	for _, d := range p.disks {
		if d.Path == path || d.Name == path {
			return true
		}
	}
	return false
}

// DiskCount is the number of roles written to disks (not files).
func (p *Plan) DiskCount() int {
	n := 0
	for _, ra := range p.Roles {
		if !ra.IsFile() {
			n++
		}
	}
	return n
}

// CheckYes refuses --yes unless every role's disk was named: no disk is
// written unasked.
func (p *Plan) CheckYes(r Request) error {
	if !r.Yes {
		return nil
	}
	for _, ra := range p.Roles {
		if !ra.Chosen {
			proposed := "none"
			if ra.Disk != nil {
				proposed = ra.Disk.Path
			}
			return fmt.Errorf("%w: --yes writes only disks named on the command line, and no disk was given for %s (proposed: %s); name it, or leave out --yes to confirm the proposal", ErrYesUnnamed, ra.Role, proposed)
		}
	}
	return nil
}
