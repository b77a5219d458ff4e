package assets

import _ "embed"

//go:embed polkit/io.github.pistudio.helper.policy
var polkitPolicy []byte

// PolkitActionID is the polkit action under which `pkexec pistudio helper`
// asks for authorization.
const PolkitActionID = "io.github.pistudio.helper"

// PolkitPolicyName is the file name the policy is installed under, in
// /usr/share/polkit-1/actions/.
const PolkitPolicyName = PolkitActionID + ".policy"

// PolkitPolicy returns the polkit policy for the privileged helper. It
// names /usr/bin/pistudio as the program: pkexec matches the action by the
// executable path and its first argument ("helper").
func PolkitPolicy() []byte { return polkitPolicy }
