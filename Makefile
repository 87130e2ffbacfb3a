# tracktail: release build, install, Debian package. No network needed: SwiftPM has no
# dependencies to fetch, and the package is assembled with dpkg-deb alone.
#
#   make                     release build (static Swift stdlib, stripped) -> .build/stripped/tracktail
#   sudo make install        binary, unit, configuration (only if absent), docs; PREFIX, DESTDIR
#   sudo make uninstall      removes what install put there, except /etc/tracktail and the state
#   make deb                 dist/tracktail_<version>_<arch>.deb
#   make check-deb           builds the package and checks it (installs it only where allowed)
#   make clean

# The one version number: Help.version in the Swift source, also shown by `tracktail --version`.
VERSION := $(shell sed -n 's/^ *static let version = "\([^"]*\)".*/\1/p' Sources/tracktail/Help.swift)

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/tracktail
SYSCONFDIR ?= /etc
DESTDIR    ?=

SWIFT   ?= swift
STRIP   ?= strip
INSTALL ?= install

# --disable-local-rpath: no $ORIGIN run path, so the loader never looks for libraries next to
# the binary (in /usr/bin).
SWIFT_RELEASE := $(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath --product tracktail
BINARY   := .build/stripped/tracktail
DEBROOT  := .build/deb/debian/tracktail

.PHONY: all build install install-files uninstall deb check-deb clean version

all: build

build:
	$(SWIFT_RELEASE)
	@mkdir -p $(dir $(BINARY))
	$(STRIP) -o $(BINARY) .build/release/tracktail

# `sudo make install` after `make` installs what was built, without building as root.
$(BINARY):
	$(MAKE) build

version:
	@echo $(VERSION)

install: install-files
	@echo "installed tracktail $(VERSION) in $(DESTDIR)$(BINDIR); next: README.md \"Run it as a service\""

install-files: $(BINARY)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/tracktail
	$(INSTALL) -m 0755 $(BINARY) $(DESTDIR)$(BINDIR)/tracktail
	sed -e 's|/usr/local/bin/tracktail|$(BINDIR)/tracktail|g' -e 's|/etc/tracktail/|$(SYSCONFDIR)/tracktail/|g' \
		systemd/tracktail.service > $(DESTDIR)$(UNITDIR)/tracktail.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tracktail.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/tracktail/tracktail.toml ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/tracktail/tracktail.toml (the new default is $(DESTDIR)$(DOCDIR)/tracktail.toml)"; \
	else \
		echo "$(INSTALL) -m 0644 Config/tracktail.toml $(DESTDIR)$(SYSCONFDIR)/tracktail/tracktail.toml"; \
		$(INSTALL) -m 0644 Config/tracktail.toml $(DESTDIR)$(SYSCONFDIR)/tracktail/tracktail.toml; \
	fi
	$(INSTALL) -m 0644 README.md Config/tracktail.toml $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 systemd/debian/copyright $(DESTDIR)$(DOCDIR)/copyright

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tracktail $(DESTDIR)$(UNITDIR)/tracktail.service
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "left $(DESTDIR)$(SYSCONFDIR)/tracktail (configuration, token) and /var/lib/tracktail (checkpoint, dead letter) in place"

deb: build
	@test -n "$(VERSION)" || { echo 'make: no `static let version = "..."` in Sources/tracktail/Help.swift' >&2; exit 1; }
	rm -rf $(DEBROOT)
	$(MAKE) --no-print-directory install-files DESTDIR=$(abspath $(DEBROOT)) PREFIX=/usr UNITDIR=/lib/systemd/system SYSCONFDIR=/etc
	rm -f $(DEBROOT)/usr/share/doc/tracktail/tracktail.toml
	systemd/debian/build-deb $(DEBROOT) $(VERSION) dist

check-deb:
	.ci/check-deb

clean:
	rm -rf .build/stripped .build/deb dist
