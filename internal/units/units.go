// Package units formats byte counts for people: binary units for image and
// file sizes (what tools like ls -h show), decimal units for disks (how
// disks are sold and labelled).
package units

import "fmt"

// Binary formats n with 1024-based units, e.g. "3.7 GiB".
func Binary(n int64) string { return format(n, 1024, "KMGTPE", "iB") }

// Decimal formats n with 1000-based units, e.g. "31.9 GB".
func Decimal(n int64) string { return format(n, 1000, "kMGTPE", "B") }

func format(n, unit int64, prefixes, suffix string) string {
	if n < 0 {
		return "-" + format(-n, unit, prefixes, suffix)
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := unit, 0
	for m := n / unit; m >= unit && exp < len(prefixes)-1; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %c%s", float64(n)/float64(div), prefixes[exp], suffix)
}
