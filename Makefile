# Pi Image Studio — build, run and test.
#   make run    install missing system packages, build bin/pistudio, start the GUI
#   make test   install what the tests need, then vet and run every test
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false
GO ?= go
BIN := bin/pistudio
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/pistudio/pistudio/internal/cli.Version=$(VERSION)

# Debian packages the GUI build needs (Fyne's cgo/OpenGL side).
BUILD_PKGS := gcc libc6-dev ca-certificates git pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev
# Decoders the app runs when they are installed (it falls back to slower
# Go ones without them).
RUN_PKGS := xz-utils zstd
# Tools the tests compare against or drive.
TEST_PKGS := $(BUILD_PKGS) util-linux mount e2fsprogs btrfs-progs dosfstools mtools fdisk mdadm \
	android-sdk-libsparse-utils bmap-tools xz-utils zstd busybox-static cpio \
	qemu-system-x86 xvfb xdotool imagemagick

# ensure-packages installs the named Debian packages that are missing:
# apt-get update + install only when something is missing; as non-root it
# prints the exact command and stops.
define ensure-packages
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "Missing Debian packages. Run as root:"; \
	    echo "  apt-get update && apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "Installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go 1.26 or newer is required (https://go.dev/dl), expected at /usr/local/go/bin/go"; exit 1; }
endef

.PHONY: all deps test-deps build run test test-go vet bench screenshots package install clean

all: build

deps:
	$(call ensure-packages,$(BUILD_PKGS))

test-deps:
	$(call ensure-packages,$(TEST_PKGS))

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

run: build
	$(call ensure-packages,$(RUN_PKGS))
	./$(BIN)

# Pinned code checkers, installed through the module proxy into bin/tools.
STATICCHECK_VERSION := v0.8.2
GOCYCLO_VERSION := v0.6.0
TOOLS := $(CURDIR)/bin/tools
# The most complex function allowed outside tests (gocyclo's measure).
MAX_COMPLEXITY := 30

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/gocyclo:
	GOBIN=$(TOOLS) $(GO) install github.com/fzipp/gocyclo/cmd/gocyclo@$(GOCYCLO_VERSION)

# vet: gofmt, go vet, staticcheck and the complexity gate. go vet and
# staticcheck (its go list -export) run with -race so that the packages
# (Fyne's cgo among them) are compiled once, for both and for the -race test
# run after them; without it staticcheck compiles everything a second time.
vet: $(TOOLS)/staticcheck $(TOOLS)/gocyclo
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet -race ./...
	GOFLAGS="$(GOFLAGS) -race" $(TOOLS)/staticcheck ./...
	@$(TOOLS)/gocyclo -over $(MAX_COMPLEXITY) -ignore '_test\.go$$' . || \
	  { echo "functions above cyclomatic complexity $(MAX_COMPLEXITY): split them"; exit 1; }

test-go:
	$(GO) test -race -timeout 45m ./...

# test: the VM boots (qemu, mostly waiting on one core) run beside the Go
# tests once everything is compiled.
test: test-deps vet
	$(MAKE) -j2 --output-sync=target test-go test-vm

clean:
	rm -rf bin

# screenshots: run the app on demo data (PISTUDIO_DEMO=1) under Xvfb and
# save a PNG of each section into docs/screenshots.
screenshots: build
	$(call ensure-packages,xvfb xdotool imagemagick x11-utils)
	gui/screenshots/shoot.sh $(BIN) docs/screenshots

# fyne's packaging tool, pinned; run through the module proxy.
FYNE ?= $(GO) run fyne.io/tools/cmd/fyne@v1.7.4
DIST := dist

# package: a Linux desktop bundle (binary, .desktop file, icon and an
# install Makefile) as $(DIST)/pistudio.tar.xz, from FyneApp.toml.
# fyne package bumps Build in FyneApp.toml; the file is put back after.
package: build
	rm -rf $(DIST) && mkdir -p $(DIST)
	cp FyneApp.toml $(DIST)/FyneApp.toml.orig
	$(FYNE) package --os linux --executable $(BIN) --release; rc=$$?; \
	  cp $(DIST)/FyneApp.toml.orig FyneApp.toml; rm -f $(DIST)/FyneApp.toml.orig; exit $$rc
	mv "Pi Image Studio.tar.xz" $(DIST)/pistudio.tar.xz

# install: as root, install the binary into $(PREFIX)/bin with the desktop
# files (.desktop, AppStream metainfo, hicolor icons) under $(PREFIX)/share
# and the polkit policy that lets `pkexec pistudio helper` (the privileged
# disk writer) ask for authorization, naming the installed binary. As a
# user, install fyne's bundle into ~/.local (writing disks then needs the
# policy from a root install or the .deb, or sudo).
PREFIX ?= /usr/local
install: build
	if [ "$$(id -u)" = 0 ]; then \
	  install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/pistudio && \
	  $(GO) run ./assets/cmd/pkgtree -root "$(DESTDIR)/" -prefix $(PREFIX) -version $(DEB_VERSION); \
	else \
	  $(MAKE) package && rm -rf $(DIST)/bundle && mkdir -p $(DIST)/bundle && \
	  tar -xJf $(DIST)/pistudio.tar.xz -C $(DIST)/bundle && \
	  $(MAKE) -C $(DIST)/bundle/pistudio user-install && \
	  echo "Installed for $$USER. Writing disks asks for the administrator password through pkexec once the polkit policy is installed (sudo make install, or the .deb)."; \
	fi

# deb: a Debian package $(DIST)/pistudio_<version>_<arch>.deb with the
# binary in /usr/bin, the polkit policy, the .desktop file, hicolor icons
# (16-512 px and scalable) and the AppStream metainfo, all named by the one
# app ID (assets.AppID). test-deb checks its contents, the metainfo
# (appstreamcli) and the .desktop file; it is not part of `make test`
# because it builds the GUI binary.
DEB_VERSION ?= $(shell echo '$(VERSION)' | sed -E 's/^v//; s/-/+/g; /^[0-9]/!s/^/0.1.0+/')
DEB_ARCH ?= $(shell dpkg --print-architecture)
DEB := $(DIST)/pistudio_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_DEPENDS := libc6, libgl1, libx11-6, libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1, pkexec | policykit-1
DEB_RECOMMENDS := git, xz-utils, zstd, qemu-user-static, binfmt-support
.PHONY: deb test-deb
deb: build
	rm -rf $(DIST)/deb && mkdir -p $(DIST)/deb/DEBIAN
	install -D -m 0755 $(BIN) $(DIST)/deb/usr/bin/pistudio
	$(GO) run ./assets/cmd/pkgtree -root $(DIST)/deb -prefix /usr -version $(DEB_VERSION)
	printf '%s\n' 'Package: pistudio' 'Version: $(DEB_VERSION)' 'Architecture: $(DEB_ARCH)' \
	  'Maintainer: Pi Image Studio developers <pistudio@users.noreply.github.com>' \
	  'Depends: $(DEB_DEPENDS)' 'Recommends: $(DEB_RECOMMENDS)' 'Suggests: podman, uidmap' \
	  'Section: utils' 'Priority: optional' 'Homepage: https://github.com/pistudio/pistudio' \
	  "Installed-Size: $$(du -sk --exclude=DEBIAN $(DIST)/deb | cut -f1)" \
	  'Description: build Raspberry Pi images and write them to SD cards and USB disks' \
	  ' Pi Image Studio builds Raspberry Pi OS images with rpi-image-gen, checks the host' \
	  ' before a build, and writes images to removable disks, verifying what it wrote.' \
	  > $(DIST)/deb/DEBIAN/control
	dpkg-deb --build --root-owner-group $(DIST)/deb $(DEB)
	@echo "built $(DEB)"

test-deb: deb
	$(call ensure-packages,appstream desktop-file-utils)
	@contents=$$(dpkg-deb --contents $(DEB)); id=io.github.pistudio.PiImageStudio; \
	for f in ./usr/bin/pistudio ./usr/share/polkit-1/actions/$$id.policy ./usr/share/applications/$$id.desktop \
	  ./usr/share/metainfo/$$id.metainfo.xml ./usr/share/icons/hicolor/scalable/apps/$$id.svg \
	  $$(for s in 16 22 24 32 48 64 128 256 512; do echo ./usr/share/icons/hicolor/$${s}x$${s}/apps/$$id.png; done); do \
	  echo "$$contents" | grep -q " $$f$$" || { echo "missing in the .deb: $$f"; exit 1; }; \
	done
	rm -rf $(DIST)/deb-check && mkdir -p $(DIST)/deb-check && dpkg-deb -x $(DEB) $(DIST)/deb-check
	appstreamcli validate --no-net $(DIST)/deb-check/usr/share/metainfo/*.metainfo.xml
	desktop-file-validate $(DIST)/deb-check/usr/share/applications/*.desktop
	@echo "test-deb: $(DEB) is complete"

# test-vm boots Debian's kernel in qemu (software emulation) to check that it
# assembles the RAID sets the native image stage writes (builder/image/vmtest).
.PHONY: test-vm
test-vm:
	$(call ensure-packages,qemu-system-x86 busybox-static cpio kmod gzip mdadm fdisk util-linux e2fsprogs dosfstools mtools xz-utils zstd)
	builder/image/vmtest/run.sh

# Real builds and arm64 boots (opt-in, root, slow: the arm64 rootfs is built
# under qemu-user emulation). test-real needs an rpi-image-gen v2.8.0 tree in
# PISTUDIO_UPSTREAM_TREE with its host-tool cache filled (README, "Real
# builds"); test-boot builds its rootfs with mmdebstrap from Debian's archive.
# Neither is part of `make test`.
UPSTREAM_PKGS := coreutils bash python3 python3-yaml python3-debian dpkg-dev mmdebstrap \
	debian-archive-keyring podman uidmap dbus-user-session zip dosfstools e2fsprogs grep rsync \
	curl mtools pv btrfs-progs dctrl-tools uuid-runtime fdisk python3-jsonschema cryptsetup \
	python3-pip make build-essential autoconf automake libtool autopoint flex gettext pkgconf \
	python3-ruamel.yaml
ARM64_PKGS := qemu-user-static binfmt-support arch-test qemu-system-arm mtools fdisk e2fsprogs dosfstools util-linux
.PHONY: test-real test-boot
test-real:
	$(call ensure-packages,$(UPSTREAM_PKGS) $(ARM64_PKGS))
	test/real/run.sh

test-boot:
	$(call ensure-packages,$(ARM64_PKGS) mmdebstrap debian-archive-keyring openssh-client)
	test/boot/run.sh

# bench: compare pistudio with dd, cmp, simg2img, bmaptool, xz, zstd, genimage
# and cat on generated data, writing only loop devices it attaches to files it
# creates (and detaches and removes, also on failure or Ctrl-C). Root only.
# Prints a table of medians and ratios and updates BENCHMARKS.md.
#   make bench BENCH_SCALE=0.1   quick run with a tenth of the sizes
#   BENCH_REPS=3 (runs of the cheap cases), BENCH_ONLY=a,b,... (groups a-g, go),
#   BENCH_DIR=/var/tmp/pistudio-bench (generated inputs are kept there)
BENCH_PKGS := util-linux coreutils diffutils time android-sdk-libsparse-utils bmap-tools \
	xz-utils zstd genimage e2fsprogs dosfstools mtools
.PHONY: bench
bench:
	@if [ "$$(id -u)" != 0 ]; then echo "make bench needs root: it attaches loop devices (losetup) and writes them; run it as root (sudo make bench)"; exit 1; fi
	$(call ensure-packages,$(BENCH_PKGS))
	$(MAKE) build
	$(GO) build -o bin/pistudio-bench ./bench
	./bin/pistudio-bench -pistudio $(BIN) -o BENCHMARKS.md
