# vpn - see README.md.  Plain GNU make; one program, one page.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
MANDIR	?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= $(LIBDIR)/systemd/system
VERSION	 = 0.1

CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	   -Wmissing-prototypes -Wvla -Wconversion $(WERROR)
CPPFLAGS += -D_GNU_SOURCE -DVERSION=\"$(VERSION)\"
SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
FUZZTIME ?= 60
# Run as root, or through sudo: the tests, the demo and the bench make
# network namespaces and devices.
SUDO	 = $(if $(filter 0,$(shell id -u)),,sudo)
# The tests of vpn.c itself, which run again on the sanitized build (the
# script, docs and valgrind tests run once).
ASAN_TESTS = $(filter-out tests/47-% tests/51-% tests/54-%,\
	   $(wildcard tests/1[0-9]-*.sh tests/2[0-9]-*.sh tests/[45][0-9]-*.sh))

all: vpn

SRCS	 = vpn.c queue.c dgram.c sandbox.c offload.c
HDRS	 = vpn.h offload.h

vpn: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

vpn-asan: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -o $@ $(SRCS)

# libFuzzer targets, each including the program's sources: frames, and
# offloads.
FUZZERS	 = tests/fuzz-frame tests/fuzz-offload

$(FUZZERS): %: %.c tests/fuzz.h $(SRCS) $(HDRS)
	clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer $(SAN) -o $@ $@.c

# make check: install what the tests need (or say what is missing), build,
# replay the fuzz corpus, then the suite on ./vpn and, for vpn.c's own
# tests, on the sanitized build, side by side (its report comes last).
check:
	scripts/deps.sh check
	$(MAKE) vpn vpn-asan unit
	mkdir -p tests/log
	$(SUDO) env VPN_SANITIZED=1 TEST_JOBS=2 tests/run.sh ./vpn-asan $(ASAN_TESTS) \
	    >tests/log/asan.out 2>&1 & asan=$$!; \
	$(SUDO) env TEST_JOBS=3 tests/run.sh ./vpn; rc=$$?; \
	wait $$asan; arc=$$?; cat tests/log/asan.out; exit $$((rc | arc))

# make unit: seconds, no root: every input in tests/corpus/TARGET once
# through the real code, each checked against the reference checks in
# tests/fuzz-TARGET.c.
unit:
	scripts/deps.sh unit
	$(MAKE) $(FUZZERS)
	tests/fuzz-frame -runs=0 tests/corpus/frame
	tests/fuzz-offload -runs=0 tests/corpus/offload

# make fuzz: both targets side by side, FUZZTIME seconds each; what they
# find new goes to tests/corpus.new/TARGET.
fuzz: $(FUZZERS)
	$(MAKE) -j2 --output-sync=target fuzz-frame fuzz-offload

fuzz-frame fuzz-offload: fuzz-%: tests/fuzz-%
	mkdir -p tests/corpus.new/$*
	tests/fuzz-$* -max_total_time=$(FUZZTIME) -max_len=70000 \
	    -print_final_stats=1 tests/corpus.new/$* tests/corpus/$*

bench:
	scripts/deps.sh bench
	$(MAKE) vpn
	$(SUDO) bench/run.sh ./vpn

demo:
	scripts/deps.sh demo
	$(MAKE) vpn
	$(SUDO) scripts/demo.sh

lab:
	scripts/deps.sh demo
	$(MAKE) vpn
	$(SUDO) scripts/lab.sh

SCRIPTS	 = $(wildcard scripts/*.sh tests/*.sh bench/*.sh) .ci/run
MANPAGES = $(wildcard docs/*.[18])

# shellcheck -x parses every file a script sources again for each script:
# two at a time, it takes half as long on two cores (113 s, now 59, here;
# in CI it runs beside make fuzz).  xargs fails if any of them does.
lint:
	printf '%s\n' $(SCRIPTS) | xargs -P 2 -n 12 shellcheck -x
	$(if $(MANPAGES),mandoc -Tlint -Wwarning $(MANPAGES))

# vpn-server and vpn-client are links to the scripts in LIBDIR/vpn, which
# find vpn as ../../bin/vpn from there; the units run them on
# SYSCONFDIR/vpn/NAME.conf.
LIBFILES = server.sh client.sh session.sh status.sh common.sh pool.sh
UNITS	 = vpn-server@.service vpn-client@.service
EXAMPLES = server.conf.example client.conf.example
UNITSED	 = s|@SBINDIR@|$(SBINDIR)|; s|@SYSCONFDIR@|$(SYSCONFDIR)|

install: vpn
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR)/vpn \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/vpn
	install -m 0755 vpn $(DESTDIR)$(BINDIR)/vpn
	install -m 0755 scripts/server.sh scripts/client.sh scripts/session.sh \
	    scripts/status.sh $(DESTDIR)$(LIBDIR)/vpn
	install -m 0644 scripts/common.sh scripts/pool.sh $(DESTDIR)$(LIBDIR)/vpn
	ln -sfr $(DESTDIR)$(LIBDIR)/vpn/server.sh $(DESTDIR)$(SBINDIR)/vpn-server
	ln -sfr $(DESTDIR)$(LIBDIR)/vpn/client.sh $(DESTDIR)$(SBINDIR)/vpn-client
	ln -sfr $(DESTDIR)$(LIBDIR)/vpn/status.sh $(DESTDIR)$(BINDIR)/vpn-status
	install -m 0644 docs/vpn.1 $(DESTDIR)$(MANDIR)/man1/vpn.1
	install -m 0644 docs/vpn-server.8 docs/vpn-client.8 docs/vpn-status.8 \
	    $(DESTDIR)$(MANDIR)/man8
	sed '$(UNITSED)' systemd/vpn-server@.service.in >$(DESTDIR)$(UNITDIR)/vpn-server@.service
	sed '$(UNITSED)' systemd/vpn-client@.service.in >$(DESTDIR)$(UNITDIR)/vpn-client@.service
	install -m 0644 docs/examples/server.conf $(DESTDIR)$(SYSCONFDIR)/vpn/server.conf.example
	install -m 0644 docs/examples/client.conf $(DESTDIR)$(SYSCONFDIR)/vpn/client.conf.example

# Leaves SYSCONFDIR/vpn if it holds configurations.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vpn $(DESTDIR)$(BINDIR)/vpn-status \
	    $(DESTDIR)$(SBINDIR)/vpn-server \
	    $(DESTDIR)$(SBINDIR)/vpn-client $(DESTDIR)$(MANDIR)/man1/vpn.1 \
	    $(DESTDIR)$(MANDIR)/man8/vpn-server.8 $(DESTDIR)$(MANDIR)/man8/vpn-client.8 \
	    $(DESTDIR)$(MANDIR)/man8/vpn-status.8 \
	    $(addprefix $(DESTDIR)$(LIBDIR)/vpn/,$(LIBFILES)) \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
	    $(addprefix $(DESTDIR)$(SYSCONFDIR)/vpn/,$(EXAMPLES))
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(LIBDIR)/vpn $(DESTDIR)$(SYSCONFDIR)/vpn

clean:
	rm -rf vpn vpn-asan $(FUZZERS) tests/corpus.new

.PHONY: all bench check demo fuzz fuzz-frame fuzz-offload lab lint install \
	uninstall unit clean
