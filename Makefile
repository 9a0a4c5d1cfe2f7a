# SwiftPlugin: a Proxmox VE storage plugin whose logic is written in Swift.
#
#   make          build the plugin: the Swift library with the XS glue linked in,
#                 staged under build/stage/ for the tests
#   make check    every test: Swift, glue staleness, header, Perl, package
#   make deb      the Debian packages (bookworm and trixie) into build/
#   make bench    the benchmarks of bench/ (not part of make check)
#   make install  install into $(DESTDIR) (used by debian/rules)
#
# `make check` and `make deb` install their own Debian build dependencies when run as root.

PERL    ?= perl
SWIFT   ?= swift
XSUBPP  ?= xsubpp
PROVE   ?= prove

PM          := perl/lib/PVE/Storage/Custom/SwiftPlugin.pm
BINDINGS_PM := perl/lib/PVE/Storage/Custom/SwiftPlugin/Bindings.pm
VERSION     := $(shell sed -n "s/^our \$$VERSION = '\(.*\)';/\1/p" $(PM))

PERL_ARCHLIB    := $(shell $(PERL) -MConfig -e 'print $$Config{archlibexp}')
PERL_PRIVLIB    := $(shell $(PERL) -MConfig -e 'print $$Config{privlibexp}')
PERL_CCFLAGS    := $(shell $(PERL) -MConfig -e 'print $$Config{ccflags}')
PERL_VENDORARCH := $(shell $(PERL) -MConfig -e 'print $$Config{vendorarch}')

BUILD    := build
STAGE    := $(BUILD)/stage
SO_PATH  := auto/PVE/Storage/Custom/SwiftPlugin/SwiftPlugin.so
STAGE_SO := $(STAGE)/arch/$(SO_PATH)
XS_C     := Sources/PerlXS/SwiftPlugin.c

# The library links the Swift runtime statically: a PVE node has no Swift toolchain.
SCRATCH     := .build-plugin
SWIFT_FLAGS := -c release --scratch-path $(SCRATCH) -Xswiftc -static-stdlib \
               -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now \
               -Xlinker --version-script=$(CURDIR)/include/swiftplugin.map
# Read by Package.swift: compiling the XS C file and the glue's C runtime needs the
# host perl's headers (as system headers: their warnings are not ours) and flags.
# The warning flags of each C target are in Package.swift.
export SPVE_PERL_CFLAGS = -isystem $(PERL_ARCHLIB)/CORE $(PERL_CCFLAGS) -DVERSION="$(VERSION)" \
                          -DXS_VERSION="$(VERSION)" -D_FORTIFY_SOURCE=2 -O2

PERL_TEST_INC := -Iperl/t/lib -Iperl/lib -I$(STAGE)/arch

.PHONY: all install check check-real-pve bench deb deps test-swift test-glue test-header test-library \
        test-perl test-package clean distclean

all: $(STAGE_SO)

$(XS_C): perl/SwiftPlugin.xs
	mkdir -p $(@D)
	$(XSUBPP) -typemap $(PERL_PRIVLIB)/ExtUtils/typemap -output $@ $<

$(STAGE_SO): $(XS_C) FORCE
	$(SWIFT) build $(SWIFT_FLAGS)
	install -D -m 0644 $(SCRATCH)/release/libSwiftPlugin.so $@

FORCE:

install: all
	install -D -m 0644 $(PM) $(DESTDIR)/usr/share/perl5/PVE/Storage/Custom/SwiftPlugin.pm
	install -D -m 0644 $(BINDINGS_PM) \
		$(DESTDIR)/usr/share/perl5/PVE/Storage/Custom/SwiftPlugin/Bindings.pm
	install -D -m 0644 $(STAGE_SO) $(DESTDIR)$(PERL_VENDORARCH)/$(SO_PATH)

deps:
	tools/install-deps

# Benchmarks (not part of `make check`): see bench/README.md.
bench: all
	bench/image-listing
	bench/backup-listing

check: deps test-glue all test-swift test-header test-library test-perl test-package

# The Swift unit tests build without the XS glue (no SPVE_PERL_CFLAGS). They run
# serially: some fork, which is only safe in a single-threaded process, as PVE's are.
test-swift:
	env -u SPVE_PERL_CFLAGS $(SWIFT) test --no-parallel

# The generated files are committed; they must match perl/methods.txt.
test-glue:
	$(PERL) perl/gen-glue.pl --check

# The hand-written ABI header and the one Swift generates must agree.
test-header: all
	tools/check-header $(SCRATCH)

# The library must load on a node without Swift: no libswift* NEEDED, no toolchain RUNPATH.
test-library: all
	tools/check-library $(STAGE_SO) include/swiftplugin.h

test-perl: all
	$(PROVE) -T $(PERL_TEST_INC) perl/t/

test-package: deb
	$(PROVE) packaging/t/

deb: deps
	packaging/build-deb.sh bookworm $(BUILD)
	packaging/build-deb.sh trixie $(BUILD)

# Side by side with PVE's real dir storage; needs Proxmox's sources (see the script).
check-real-pve: all
	tools/check-real-pve

# Keeps build/roots, the debootstrap cache of `make deb` and the package test.
clean:
	rm -rf $(STAGE) $(BUILD)/deb-work $(BUILD)/logs $(BUILD)/*.deb $(BUILD)/*.changes \
		$(BUILD)/*.buildinfo $(SCRATCH) .build $(XS_C)

distclean: clean
	rm -rf $(BUILD)
