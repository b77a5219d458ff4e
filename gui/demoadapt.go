package gui

import (
	"context"

	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/gui/demo"
)

// demoDoctor adapts the demo doctor to Doctor.
type demoDoctor struct{ *demo.Doctor }

func (d demoDoctor) Check(ctx context.Context, req DoctorRequest, progress func(doctor.Check)) doctor.Report {
	return d.Doctor.Check(ctx, req.Config, progress)
}

// demoFlashtime adapts the demo first-boot backend to Flashtime.
type demoFlashtime struct{ *demo.Flashtime }

func (d demoFlashtime) Profiles() (ProfileStore, error) {
	p, err := d.Flashtime.Profiles()
	if err != nil {
		return nil, err
	}
	return p, nil
}
