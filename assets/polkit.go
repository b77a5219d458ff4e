package assets

import (
	_ "embed"
	"strings"
)

//go:embed polkit/io.github.pistudio.PiImageStudio.policy
var polkitPolicy []byte

// PolkitActionID is the polkit action under which `pkexec pistudio helper`
// asks for authorization: the app ID with ".helper".
const PolkitActionID = AppID + ".helper"

// PolkitPolicyName is the file name the policy is installed under, in
// /usr/share/polkit-1/actions/: the app ID with ".policy".
const PolkitPolicyName = AppID + ".policy"

// PolkitPolicy returns the polkit policy for the privileged helper. It
// names /usr/bin/pistudio as the program: pkexec matches the action by the
// executable path and its first argument ("helper").
func PolkitPolicy() []byte { return polkitPolicy }

// PolkitPolicyFor returns the policy naming exe (the installed binary)
// instead of /usr/bin/pistudio.
func PolkitPolicyFor(exe string) []byte {
	return []byte(strings.ReplaceAll(string(polkitPolicy), ">/usr/bin/pistudio<", ">"+exe+"<"))
}
