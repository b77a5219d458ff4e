#!/usr/bin/env bash
# shoot.sh BINARY OUTDIR — runs the desktop app on demo data under Xvfb and
# saves a PNG of each section (and of the flash confirmation, a failed
# build and a RAID plan after a disk was plugged in) into OUTDIR: NAME.png
# in the light theme at 1366x800, NAME-dark.png in the dark theme, and
# NAME-800x600.png / NAME-dark-800x600.png at 800x600 (the window grows
# past that only if a section asks for more, which the PNG then shows).
# Needs: Xvfb, xdotool, ImageMagick's import.
set -euo pipefail

bin=$(realpath "${1:-bin/pistudio}")
out=${2:-docs/screenshots}
mkdir -p "$out"
out=$(realpath "$out")

IMPORT=${IMPORT:-/usr/bin/import}
for tool in Xvfb xdotool "$IMPORT"; do
	command -v "$tool" >/dev/null || { echo "shoot.sh: $tool is missing (apt-get install xvfb xdotool imagemagick)" >&2; exit 1; }
done

home=$(mktemp -d /tmp/pistudio-demo.XXXX)
# Xvfb picks a free display and writes its number to fd 3.
Xvfb -displayfd 3 -screen 0 1400x900x24 -nolisten tcp 3>"$home/display" >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 100); do
	[ -s "$home/display" ] && break
	sleep 0.1
done
[ -s "$home/display" ] || { echo "shoot.sh: Xvfb did not start" >&2; exit 1; }
display=:$(head -n1 "$home/display")

# shot NAME SECTION SECONDS: start the app on SECTION, wait, save NAME.png.
# A start that gets no window (GLFW sometimes fails to initialise on a
# loaded machine) is tried again, up to three times.
shot() {
	local try
	for try in 1 2 3; do
		if shot_once "$@"; then
			return 0
		fi
		echo "shoot.sh: retrying $2" >&2
		sleep 1
	done
	return 1
}

# shot_once NAME SECTION SECONDS THEME SIZE: one attempt of shot.
shot_once() {
	local name=$1 section=$2 wait=$3 theme=${4:-light} size=${5:-1366x800}
	rm -rf "$home"/.config "$home"/pistudio "$home"/pistudio-work "$home"/.cache
	DISPLAY=$display HOME=$home LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 \
		PISTUDIO_DEMO=1 PISTUDIO_SECTION="$section" FYNE_THEME="$theme" PISTUDIO_WINDOW_SIZE="$size" \
		"$bin" >"$home/app.log" 2>&1 &
	local app=$!
	local win=""
	for _ in $(seq 100); do
		win=$(DISPLAY=$display xdotool search --name "Pi Image Studio" 2>/dev/null | head -n1 || true)
		[ -n "$win" ] && break
		sleep 0.1
	done
	if [ -z "$win" ]; then
		echo "shoot.sh: no window for $section" >&2
		cat "$home/app.log" >&2
		kill "$app" 2>/dev/null || true
		return 1
	fi
	sleep "$wait"
	DISPLAY=$display "$IMPORT" -window "$win" "$out/$name.png"
	kill "$app" 2>/dev/null || true
	wait "$app" 2>/dev/null || true
	if grep -q "^panic:" "$home/app.log"; then
		echo "shoot.sh: the app panicked on $section:" >&2
		cat "$home/app.log" >&2
		return 1
	fi
	echo "wrote $out/$name.png"
}

# every NAME SECTION SECONDS: the shot in both themes at both sizes.
every() {
	local name=$1 section=$2 wait=$3
	shot "$name" "$section" "$wait" light 1366x800
	shot "$name-dark" "$section" "$wait" dark 1366x800
	shot "$name-800x600" "$section" "$wait" light 800x600
	shot "$name-dark-800x600" "$section" "$wait" dark 800x600
}

every configure "Configure" 2
every configure-problem "Configure problem" 3
every build "Build" 3
every build-failed "Build failed" 4
every flash "Flash" 3
every flash-confirm "Flash confirm" 2.5
every raid "RAID set" 2
every raid-hotplug "RAID set hotplug" 3
every settings "Settings" 2
shot doctor "Settings doctor" 2.5 light 1366x800
shot cache "Settings cache" 2 light 1366x800
shot get-tool "Settings no tool" 1.5 light 1366x800
shot build-check "Build check" 2.5 light 1366x800
shot customise "Flash customise" 2.5 light 1366x800
shot configure-flashtime "Configure flash time" 2 light 1366x800
shot several-cards "Flash several" 3.5 light 1366x800
