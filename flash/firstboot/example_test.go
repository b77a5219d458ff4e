package firstboot_test

import (
	"errors"
	"fmt"

	"github.com/pistudio/pistudio/flash/firstboot"
)

// A form checks each field as it is typed, greys the settings out with
// the reader's reason, and renders one payload per target.
func Example() {
	// Per field, as the user types:
	if err := firstboot.CheckField(firstboot.FieldHostname, "pi 1"); err != nil {
		fmt.Println(err)
	}
	// The whole form, with the fields' combinations:
	s := firstboot.Settings{Hostname: "pi-{n}", User: "pi", Password: "secret", WifiSSID: "Home"}
	var ve *firstboot.ValidationError
	if errors.As(s.Validate(), &ve) {
		fmt.Println(ve.For(firstboot.FieldWifiCountry))
	}
	s.WifiCountry = "GB"
	// The image decides the format (Detect on the image path); here it is
	// named.
	per, err := firstboot.Expand(s, 2, 1, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range per {
		p, err := firstboot.Render(t, firstboot.CloudInit, firstboot.RenderOptions{InstanceID: "example"})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(t.Hostname, len(p.Files), p.Cmdline[0])
	}
	// Output:
	// hostname: "pi 1" is not a host name: letters, digits and '-', 1 to 63 characters, no '-' at either end
	// wifi-country: Wi-Fi needs a country (its radio rules)
	// pi-1 3 ds=nocloud;i=example
	// pi-2 3 ds=nocloud;i=example
}
