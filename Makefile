# SwiftPlugin: a Proxmox VE storage plugin whose logic is written in Swift.
#
#   make          build the plugin: the Swift library with the XS glue linked in,
#                 staged under build/stage/ for the tests
#   make test     the fast lane: Swift and Perl tests, glue staleness, header and
#                 library checks; no Debian packages, no debootstrap
#   make check    every test: the fast lane, the sanitizer run, the fuzz regression
#                 inputs, the packages and the package test
#   make check-asan  the Perl tests against an ASan/UBSan build (FUZZING.md)
#   make fuzz     each fuzz target for FUZZ_SECONDS (FUZZING.md)
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
               -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
# Read by Package.swift: compiling the XS C file and the glue's C runtime needs the
# host perl's headers (as system headers: their warnings are not ours) and flags.
# The warning flags of each C target are in Package.swift.
export SPVE_PERL_CFLAGS = -isystem $(PERL_ARCHLIB)/CORE $(PERL_CCFLAGS) -DVERSION="$(VERSION)" \
                          -DXS_VERSION="$(VERSION)" -D_FORTIFY_SOURCE=2 -O2

PERL_TEST_INC := -Iperl/t/lib -Iperl/lib -I$(STAGE)/arch

# The plugins built with the SDK: this storage, and the example (Examples/HelloPlugin).
PLUGINS_METHODS := perl/methods.txt Examples/HelloPlugin/methods.txt
HELLO_XS_C      := Examples/HelloPlugin/Sources/HelloPluginXS/HelloPlugin.c
HELLO_SO        := $(STAGE)/hello/auto/PVE/Storage/Custom/HelloPlugin/HelloPlugin.so

.PHONY: all hello test-hello install test check check-real-pve bench deb deps test-swift test-glue test-header test-library \
        test-perl test-perl-pve8 check-shared test-package clean distclean

all: $(STAGE_SO)

$(XS_C): perl/SwiftPlugin.xs
	mkdir -p $(@D)
	$(XSUBPP) -typemap $(PERL_PRIVLIB)/ExtUtils/typemap -output $@ $<

$(HELLO_XS_C): Examples/HelloPlugin/perl/HelloPlugin.xs
	mkdir -p $(@D)
	$(XSUBPP) -typemap $(PERL_PRIVLIB)/ExtUtils/typemap -output $@ $<

$(STAGE_SO): $(XS_C) $(HELLO_XS_C) FORCE
	$(SWIFT) build $(SWIFT_FLAGS) --product SwiftPlugin
	install -D -m 0644 $(SCRATCH)/release/libSwiftPlugin.so $@

# The example plugin, staged apart from this one (its Perl test puts it on @INC).
hello: $(HELLO_XS_C) $(STAGE_SO)
	$(SWIFT) build $(SWIFT_FLAGS) --product HelloPlugin
	install -D -m 0644 $(SCRATCH)/release/libHelloPlugin.so $(HELLO_SO)

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

# The fast lane: everything `check` runs except installing Debian packages and the
# package test (debootstrap). Needs the Swift toolchain, perl, xsubpp and qemu-img.
test: test-glue all test-swift test-header test-library test-perl test-hello

check: deps test-glue all test-swift test-header test-library test-perl test-hello test-perl-pve8 check-shared check-asan fuzz-regressions test-package

# The Swift unit tests build without the XS glue (no SPVE_PERL_CFLAGS). They run in
# parallel: most use InMemorySystem, and none changes process-wide state (TZ, signal
# dispositions, the current directory). The few that fork (ForkingTests: a child of a
# threaded process may block on a lock held at the fork) run alone afterwards.
test-swift:
	env -u SPVE_PERL_CFLAGS $(SWIFT) test --skip ForkingTests
	env -u SPVE_PERL_CFLAGS $(SWIFT) test --no-parallel --filter ForkingTests

# The generated files are committed; they must match each plugin's methods.txt.
test-glue:
	$(PERL) SDK/gen-glue.pl --check $(PLUGINS_METHODS)

# The hand-written ABI header and the one Swift generates must agree.
test-header: all
	tools/check-header $(SCRATCH) SwiftPlugin include/swiftplugin.h

# The library must load on a node without Swift: no libswift* NEEDED, no toolchain RUNPATH.
test-library: all
	tools/check-library $(STAGE_SO) include/swiftplugin.h

test-perl: all
	$(PROVE) -T $(PERL_TEST_INC) perl/t/

# The example plugin, built with the SDK alone, loaded by the stand-in PVE's plugin scan.
test-hello: hello
	tools/check-header $(SCRATCH) HelloPlugin Examples/HelloPlugin/include/helloplugin.h
	tools/check-library $(HELLO_SO) Examples/HelloPlugin/include/helloplugin.h
	$(PROVE) -T -Iperl/t/lib -IExamples/HelloPlugin/perl/lib -I$(STAGE)/hello Examples/HelloPlugin/t/

# Two nodes on one shared storage, on each rig in turn: a single-node CephFS on loopback
# mounted twice with ceph-fuse (tools/ceph-rig), then a single-node MooseFS mounted twice
# with mfsmount (tools/moosefs-rig); needs root. The reference file systems of
# capabilities.t (XFS, btrfs, ext4 on loop devices) run with the first rig only. A rig
# whose packages cannot be installed is skipped; the rigs live outside build/, which
# `make clean` removes.
SHARED_RIGS = ceph moosefs

check-shared: all
	@if [ "$$(id -u)" -ne 0 ]; then echo "check-shared: skipped: needs root"; exit 0; fi; \
	rc=0; references=1; \
	for rig in $(SHARED_RIGS); do \
		base=$$(mktemp -d /tmp/spve-$$rig.XXXXXX); dir=$$base/rig; \
		tools/$$rig-rig up $$dir >/dev/null; up=$$?; \
		if [ $$up -ne 0 ]; then rmdir $$base 2>/dev/null; \
			if [ $$up -eq 3 ]; then echo "check-shared: $$rig: skipped: its packages cannot be installed"; else rc=$$up; fi; \
			continue; fi; \
		echo "check-shared: $$rig"; \
		SPVE_SHARED_RIG=$$rig SPVE_SHARED_MOUNTS=$$dir/a:$$dir/b SPVE_SHARED_REFERENCES=$$references \
			$(PROVE) -T $(PERL_TEST_INC) perl/xt/shared/ || rc=1; \
		references=0; \
		tools/$$rig-rig down $$dir && rmdir $$base || rc=1; \
	done; exit $$rc

# The same Perl tests on a stand-in PVE 8 host (storage API 11), whose dir the plugin
# follows there (linked clone layout, volume-name grammar, maxfiles).
test-perl-pve8: all
	PVE_STANDIN_GENERATION=8 $(PROVE) -T $(PERL_TEST_INC) perl/t/

test-package: deb
	$(PROVE) packaging/t/

deb: deps
	packaging/build-deb.sh bookworm $(BUILD)
	packaging/build-deb.sh trixie $(BUILD)

# Side by side with PVE's real dir storage; needs Proxmox's sources (see the script).
check-real-pve: all
	tools/check-real-pve
	tools/check-real-pve --pve8
	tools/check-real-guests

# The Perl tests against the library and glue built with ASan and UBSan (README.md, FUZZING.md).
check-asan: $(XS_C) $(HELLO_XS_C)
	tools/check-asan .build-asan $(BUILD)/asan

# Fuzzing (FUZZING.md): one libFuzzer executable per parser of untrusted bytes, built
# with plain swiftc: the SDK, the backend, the live system, the plugin and the targets of
# fuzz/Targets as static libraries, and the entry point fuzz/Entry/<target>.swift, all with
# -sanitize=fuzzer,address. `make fuzz` replays fuzz/regressions/<target>/ and then
# fuzzes each target for FUZZ_SECONDS from fuzz/corpus/<target>/; new inputs go to
# build/fuzz/corpus/<target>/ (`make fuzz-corpus` merges them into fuzz/corpus,
# minimised). It exits non-zero when any target crashed; crashing inputs are saved
# under build/fuzz/artifacts/<target>/.
SWIFTC       ?= swiftc
FUZZ_TARGETS ?= volume-name qcow2-header qcow2-snapshots vmdk-header request-decoding archive-name storage-options stream-header qcow2-clusters qemu-img-info replication-stream
FUZZ_SECONDS ?= 60
# Extra libFuzzer options, e.g. FUZZ_FLAGS="-fork=1 -ignore_crashes=1" to go on past a crash.
FUZZ_FLAGS   ?=
FUZZ_BUILD   := $(CURDIR)/$(BUILD)/fuzz
FUZZ_SWIFTC   = $(SWIFTC) -swift-version 6 -O -g -parse-as-library -sanitize=fuzzer,address \
                -I $(CURDIR)/Sources/CSystemShims -I $(CURDIR)/SDK/include -I $(CURDIR)/include -I $(FUZZ_BUILD)
# The modules of the fuzz build, in dependency order: name=source directory.
FUZZ_MODULES := PVEStorage=SDK/Sources/PVEStorage PVEStoragePerl=SDK/Sources/PVEStoragePerl \
                PVEStorageTesting=SDK/Sources/PVEStorageTesting \
                DirectoryBackend=Sources/DirectoryBackend SwiftPluginSystem=Sources/SwiftPluginSystem \
                SwiftPlugin=Sources/SwiftPlugin FuzzTargets=fuzz/Targets
FUZZ_LIBRARIES := $(foreach m,$(FUZZ_MODULES),$(firstword $(subst =, ,$(m))))
FUZZ_SOURCES := $(shell find SDK/Sources Sources fuzz/Targets -name '*.swift' | sort)
# The Swift runtime's backtracer would delay libFuzzer's own crash handling.
FUZZ_ENV     := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=0

.PHONY: check-asan fuzz fuzz-build fuzz-regressions fuzz-corpus

fuzz-build: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

# Each module a static library, built in order (afresh: swiftc adds to an existing
# archive, which would keep the objects of removed source files).
$(FUZZ_BUILD)/modules.stamp: $(FUZZ_SOURCES)
	@set -e; for m in $(FUZZ_MODULES); do name=$${m%%=*}; dir=$${m#*=}; \
		echo "fuzz: module $$name"; mkdir -p $(FUZZ_BUILD)/obj/$$name; \
		rm -f $(FUZZ_BUILD)/lib$$name.a; \
		(cd $(FUZZ_BUILD)/obj/$$name && $(FUZZ_SWIFTC) -module-name $$name -emit-library -static \
			-emit-module -emit-module-path $(FUZZ_BUILD)/$$name.swiftmodule \
			$$(find $(CURDIR)/$$dir -name '*.swift' | sort) -o $(FUZZ_BUILD)/lib$$name.a); \
	done; touch $@

$(FUZZ_BUILD)/%: fuzz/Entry/%.swift $(FUZZ_BUILD)/modules.stamp
	mkdir -p $(FUZZ_BUILD)/obj/$*
	cd $(FUZZ_BUILD)/obj/$* && $(FUZZ_SWIFTC) $(abspath $<) -L $(FUZZ_BUILD) \
		$(addprefix -l,$(shell echo $(FUZZ_LIBRARIES) | tr ' ' '\n' | tac)) \
		-o $@ 2> link.log || { cat link.log >&2; exit 1; }

# Every saved regression input of every target, once (FUZZING.md lists the known crashes).
fuzz-regressions: fuzz-build
	@failed=; for t in $(FUZZ_TARGETS); do \
		set -- $$(find fuzz/regressions/$$t -type f 2>/dev/null | sort); [ $$# -gt 0 ] || continue; \
		if $(FUZZ_ENV) $(FUZZ_BUILD)/$$t "$$@" > $(FUZZ_BUILD)/$$t.regressions.log 2>&1; \
		then echo "ok - $$t: $$# regression inputs replay"; \
		else echo "not ok - $$t: a regression input crashes, see $(FUZZ_BUILD)/$$t.regressions.log"; failed="$$failed $$t"; fi; \
	done; [ -z "$$failed" ] || { echo "fuzz-regressions: crashed:$$failed"; exit 1; }

fuzz: fuzz-build
	@failed=; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
		set -- $$(find fuzz/regressions/$$t -type f 2>/dev/null | sort); \
		if [ $$# -gt 0 ] && ! $(FUZZ_ENV) $(FUZZ_BUILD)/$$t "$$@" > $(FUZZ_BUILD)/$$t.regressions.log 2>&1; then \
			echo "not ok - $$t: a regression input crashes, see $(FUZZ_BUILD)/$$t.regressions.log"; failed="$$failed $$t"; fi; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s (log: $(FUZZ_BUILD)/$$t.log)"; \
		if $(FUZZ_ENV) $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_FLAGS) \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t > $(FUZZ_BUILD)/$$t.log 2>&1; \
		then echo "ok - $$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_BUILD)/$$t.log | tail -n 1) executions, no crash"; \
		else echo "not ok - $$t crashed: $$(ls $(FUZZ_BUILD)/artifacts/$$t | tr '\n' ' ')"; failed="$$failed $$t"; fi; \
	done; [ -z "$$failed" ] || { echo "fuzz: crashed:$$failed (inputs under $(FUZZ_BUILD)/artifacts/)"; exit 1; }

# Merges what fuzzing found into fuzz/corpus/<target>, minimised (libFuzzer -merge=1).
fuzz-corpus: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_BUILD)/merged/$$t && mkdir -p $(FUZZ_BUILD)/merged/$$t $(FUZZ_BUILD)/corpus/$$t && \
		$(FUZZ_ENV) $(FUZZ_BUILD)/$$t -merge=1 $(FUZZ_BUILD)/merged/$$t fuzz/corpus/$$t $(FUZZ_BUILD)/corpus/$$t \
			> $(FUZZ_BUILD)/$$t.merge.log 2>&1 || { echo "merge of $$t failed: $(FUZZ_BUILD)/$$t.merge.log"; exit 1; }; \
		rm -rf fuzz/corpus/$$t && cp -r $(FUZZ_BUILD)/merged/$$t fuzz/corpus/$$t; \
		echo "$$t: $$(ls fuzz/corpus/$$t | wc -l) inputs, $$(cat fuzz/corpus/$$t/* | wc -c) bytes"; \
	done

# Keeps build/roots, the debootstrap cache of `make deb` and the package test.
clean:
	rm -rf $(STAGE) $(BUILD)/deb-work $(BUILD)/logs $(BUILD)/*.deb $(BUILD)/*.changes \
		$(BUILD)/*.buildinfo $(SCRATCH) .build .build-asan $(BUILD)/fuzz $(BUILD)/asan $(XS_C) $(HELLO_XS_C)

distclean: clean
	rm -rf $(BUILD)
