# vpn - see README.md.  Plain GNU make; one program, one page.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
VERSION	 = 0.1

CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	   -Wmissing-prototypes -Wvla -Wconversion $(WERROR)
CPPFLAGS += -D_GNU_SOURCE -DVERSION=\"$(VERSION)\"
SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
FUZZTIME ?= 60

all: vpn

vpn: vpn.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ vpn.c $(LDLIBS)

vpn-asan: vpn.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(SAN) -o $@ vpn.c

tests/fuzz: tests/fuzz.c vpn.c
	clang $(CPPFLAGS) -g -O1 -fsanitize=fuzzer $(SAN) -o $@ tests/fuzz.c

check: vpn vpn-asan
	tests/run.sh ./vpn
	VPN_SANITIZED=1 tests/run.sh ./vpn-asan

fuzz: tests/fuzz
	mkdir -p tests/corpus.new
	tests/fuzz -max_total_time=$(FUZZTIME) -max_len=70000 -print_final_stats=1 \
	    tests/corpus.new tests/corpus

bench: vpn
	bench/run.sh ./vpn

demo: vpn
	scripts/demo.sh

SCRIPTS	 = $(wildcard scripts/*.sh tests/*.sh bench/*.sh) .ci/run
MANPAGE	 = $(wildcard docs/vpn.1)

lint:
	shellcheck -x $(SCRIPTS)
	$(if $(MANPAGE),mandoc -Tlint -Wwarning $(MANPAGE))

install: vpn
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 vpn $(DESTDIR)$(BINDIR)/vpn
	install -m 0644 docs/vpn.1 $(DESTDIR)$(MANDIR)/man1/vpn.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vpn $(DESTDIR)$(MANDIR)/man1/vpn.1

clean:
	rm -rf vpn vpn-asan tests/fuzz tests/corpus.new

.PHONY: all bench check demo fuzz lint install uninstall clean
