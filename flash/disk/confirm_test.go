package disk

import "testing"

func TestConfirmedBy(t *testing.T) {
	d := Disk{Name: "sdc", Path: "/dev/sdc"}
	for _, tc := range []struct {
		typed string
		want  bool
	}{
		{"sdc", true},
		{"/dev/sdc", true},
		{"  sdc\n", true},
		{" /dev/sdc ", true},
		{"", false},
		{"   ", false},
		{"sd", false},
		{"SDC", false},
		{"/dev/sdd", false},
		{"dev/sdc", false},
		{"sdc1", false},
	} {
		if got := d.ConfirmedBy(tc.typed); got != tc.want {
			t.Errorf("ConfirmedBy(%q) = %v, want %v", tc.typed, got, tc.want)
		}
	}
	if (Disk{}).ConfirmedBy("") {
		t.Error("an empty disk is confirmed by an empty answer")
	}
}
