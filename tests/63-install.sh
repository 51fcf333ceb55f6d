#!/bin/bash
# tests/63-install.sh - make install puts what a user deploys under DESTDIR,
# and the installed scripts work from there; make uninstall takes it away.
#
# - make install DESTDIR=... PREFIX=/usr, as a user who is not root: vpn,
#   vpn-server and vpn-client (links to the scripts in lib/vpn, with their
#   library), the three man pages, the two units and the two example
#   configurations, each with its mode, and nothing else.
# - The installed vpn-server and vpn-client, run from DESTDIR with no VPN=
#   as the man pages' examples say, on the two gateways: host A and host B
#   ping each other and 5 MiB cross each way whole; the vpn that runs is
#   DESTDIR's.  SIGTERM to both leaves the gateways as they were.
# - make uninstall DESTDIR=... leaves no file in DESTDIR; a configuration of
#   the admin's in /etc/vpn, and its directory, stay.
. "$(dirname "$0")/lib-sites.sh"
need runuser mandoc

dest=$TMP/dest
want='-rw-r--r-- etc/vpn/client.conf.example
-rw-r--r-- etc/vpn/server.conf.example
-rwxr-xr-x usr/bin/vpn
lrwxrwxrwx usr/bin/vpn-status -> ../lib/vpn/status.sh
-rw-r--r-- usr/lib/systemd/system/vpn-client@.service
-rw-r--r-- usr/lib/systemd/system/vpn-server@.service
-rwxr-xr-x usr/lib/vpn/client.sh
-rw-r--r-- usr/lib/vpn/common.sh
-rw-r--r-- usr/lib/vpn/pool.sh
-rwxr-xr-x usr/lib/vpn/server.sh
-rwxr-xr-x usr/lib/vpn/session.sh
-rwxr-xr-x usr/lib/vpn/status.sh
lrwxrwxrwx usr/sbin/vpn-client -> ../lib/vpn/client.sh
lrwxrwxrwx usr/sbin/vpn-server -> ../lib/vpn/server.sh
-rw-r--r-- usr/share/man/man1/vpn.1
-rw-r--r-- usr/share/man/man8/vpn-client.8
-rw-r--r-- usr/share/man/man8/vpn-server.8
-rw-r--r-- usr/share/man/man8/vpn-status.8'

# files DIR: the files and links under DIR, with their modes and targets.
files() {
	find "$1" -type l -printf '%M %P -> %l\n' -o ! -type d -printf '%M %P\n' | sort -k2
}

installs() {
	local got
	# A copy of the tree that nobody may write but its owner, nobody.
	mkdir "$TMP/src"
	cp -R --preserve=timestamps "$ROOT"/{Makefile,vpn.c,vpn.h,queue.c,dgram.c,sandbox.c,offload.c,offload.h,vpn,scripts,docs,systemd} "$TMP/src"
	chown -R nobody "$TMP/src"
	install -d -o nobody "$dest"
	chmod 0755 "$TMP"
	(cd "$TMP/src" && runuser -u nobody -- make install DESTDIR="$dest" PREFIX=/usr) >"$TMP/install.log" 2>&1 ||
		fail "make install as nobody: $(tail -3 "$TMP/install.log")"
	got=$(files "$dest")
	[[ $got == "$want" ]] || fail "installed: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
	[[ $(stat -c %a "$dest/etc/vpn") == 700 ]] || fail "etc/vpn is mode $(stat -c %a "$dest/etc/vpn"), want 700"
	cmp -s "$TMP/src/vpn" "$dest/usr/bin/vpn" || fail "usr/bin/vpn is not the vpn built"
	for f in server.sh client.sh session.sh status.sh common.sh pool.sh; do
		cmp -s "$ROOT/scripts/$f" "$dest/usr/lib/vpn/$f" || fail "usr/lib/vpn/$f is not scripts/$f"
	done
	grep -qx 'ExecStart=/usr/sbin/vpn-server -f /etc/vpn/%i.conf' \
	    "$dest/usr/lib/systemd/system/vpn-server@.service" || fail "vpn-server@.service: no ExecStart with /usr/sbin and /etc"
	for p in man1/vpn.1 man8/vpn-server.8 man8/vpn-client.8 man8/vpn-status.8; do
		mandoc -Tlint -Wwarning "$dest/usr/share/man/$p" >/dev/null 2>&1 ||
			fail "$p: mandoc -Tlint: $(mandoc -Tlint -Wwarning "$dest/usr/share/man/$p" 2>&1)"
	done
	"$dest/usr/sbin/vpn-server" -h | grep '^usage: vpn-server ' >/dev/null || fail "vpn-server -h: $("$dest/usr/sbin/vpn-server" -h 2>&1 | head -1)"
}
check "make install as a user, into DESTDIR" installs

sites
a0=$(snapshot "$GWA") b0=$(snapshot "$GWB")

# The man pages' examples, with DESTDIR's sbin first on PATH and no VPN=.
runs_installed() {
	local srv cli gw
	spawn ip netns exec "$GWB" env -u VPN --default-signal=INT PATH="$dest/usr/sbin:$PATH" \
	    TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" vpn-server -r 172.16.1.0/24 2>"$TMP/srv.log"
	srv=$!
	SCRIPTS+=("$srv")
	wait_for 5 listening "$GWB" 33960
	spawn ip netns exec "$GWA" env -u VPN --default-signal=INT PATH="$dest/usr/sbin:$PATH" \
	    TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" vpn-client -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24 2>"$TMP/cli.log"
	cli=$!
	SCRIPTS+=("$cli")
	up_both
	for gw in "$GWA" "$GWB"; do
		pid_of "$gw" "$dest/usr/bin/vpn" >/dev/null || fail "$gw: the vpn running is not DESTDIR's"
	done
	grep -q '^vpn-server: 192.0.2.2:[0-9]*: session up on tun0' "$TMP/srv.log" || fail "server log: $(cat "$TMP/srv.log")"
	transfer_check "$A" "$B" 172.20.1.2 5
	transfer_check "$B" "$A" 172.16.1.1 5
	stop "$cli" cli
	stop "$srv" srv
	SCRIPTS=()
	same_as "$a0" "$GWA" "the installed vpn-client"
	same_as "$b0" "$GWB" "the installed vpn-server"
	[[ -z $(tmpdirs) ]] || fail "left in the scripts' directories: $(tmpdirs)"
}
check "installed scripts: ping, 5 MiB each way" runs_installed

uninstalls() {
	local left
	echo '-s 192.0.2.1' >"$dest/etc/vpn/mine.conf"
	(cd "$TMP/src" && runuser -u nobody -- make uninstall DESTDIR="$dest" PREFIX=/usr) >"$TMP/uninstall.log" 2>&1 ||
		fail "make uninstall: $(tail -3 "$TMP/uninstall.log")"
	left=$(files "$dest")
	[[ $left == "-rw-r--r-- etc/vpn/mine.conf" ]] || fail "after make uninstall: $left"
	rm "$dest/etc/vpn/mine.conf"
	(cd "$TMP/src" && runuser -u nobody -- make uninstall DESTDIR="$dest" PREFIX=/usr) >"$TMP/uninstall.log" 2>&1 ||
		fail "make uninstall again: $(tail -3 "$TMP/uninstall.log")"
	[[ ! -e $dest/etc/vpn && ! -e $dest/usr/lib/vpn ]] || fail "make uninstall left etc/vpn or usr/lib/vpn"
}
check "make uninstall: only the admin's left" uninstalls
