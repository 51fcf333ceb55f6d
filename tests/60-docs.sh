#!/bin/bash
# tests/60-docs.sh - the documentation cannot drift from the program.
#
# - Every flag in "vpn -h" appears in docs/vpn.1's SYNOPSIS and flag list.
# - The rendered SYNOPSIS equals the usage line, word for word.
# - mandoc -Tlint has nothing to say.
# - The same for vpn-server.8 and vpn-client.8 and the usage of the scripts
#   under those names, as installed; each of their flags has an entry.
# - The COUNTERS example line has the keys vpn prints, in its order.
# - The example frame in docs/protocol.md is a packet the kernel answers.
# - make install puts vpn and vpn.1 under DESTDIR.
. "$(dirname "$0")/lib.sh"
need mandoc
man=$ROOT/docs/vpn.1

usage=$("$VPN" -h)
flags=$(sed -E 's/^usage: vpn \[-([A-Za-z]+)\].*/\1/' <<<"$usage")
flags+=$(grep -oE '\[-[a-z] ' <<<"$usage" | tr -d '[ -' | tr -d '\n')
for ((i = 0; i < ${#flags}; i++)); do
	f=${flags:i:1}
	n=$(grep -cE "^\.It Fl $f( |$)" "$man" || true)
	((n == 1)) || fail "-$f: $n entries in the flag list of vpn.1, want 1"
	grep -qE "^\.Op Fl ([A-Za-z]*${f}[A-Za-z]*|${f} .*)$" "$man" ||
		fail "-$f: not in the SYNOPSIS of vpn.1"
done
synopsis=$(mandoc -Tascii "$man" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
    sed '1d;$d' | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
[[ "usage: $synopsis" == "$usage" ]] || fail "SYNOPSIS '$synopsis', usage '$usage'"
lint=$(mandoc -Tlint -Wwarning "$man" 2>&1) || fail "mandoc -Tlint: $lint"
say "${#flags} flags documented; SYNOPSIS equals usage"

# synopsis PAGE: the rendered SYNOPSIS of PAGE, on one line.
synopsis() {
	mandoc -Tascii "$1" | col -b | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	    sed '1d;$d' | tr -s ' \t\n' ' ' | sed 's/^ //; s/ $//'
}
for name in server client status; do
	page=$ROOT/docs/vpn-$name.8
	ln -s "$ROOT/scripts/$name.sh" "$TMP/vpn-$name"	# its installed name
	usage=$("$TMP/vpn-$name" -h | sed '/^$/q' | tr -s ' \n' ' ' | sed 's/ $//')
	flags=$(grep -oE '(\[| )-[A-Za-z0-9]+' <<<"$usage" | tr -d '[ \n-')
	for ((i = 0; i < ${#flags}; i++)); do
		f=${flags:i:1}
		grep -qE "^\.It Fl $f( |$)" "$page" || fail "-$f: not in the flag list of ${page##*/}"
	done
	[[ "usage: $(synopsis "$page")" == "$usage" ]] ||
		fail "${page##*/}: SYNOPSIS '$(synopsis "$page")', usage '$usage'"
	lint=$(mandoc -Tlint -Wwarning "$page" 2>&1) || fail "mandoc -Tlint: $lint"
	say "vpn-$name: ${#flags} flags documented; SYNOPSIS equals usage"
done

# The COUNTERS example has the keys vpn prints, in its order.
keys() { tr ' ' '\n' | sed -n 's/=.*//p' | tr '\n' ' '; }
doc=$(sed -n '/^\.Sh COUNTERS/,/^\.Ed/p' "$man" | grep '^vpn: ' | keys)
ns_add "$NS_PREFIX-0"
got=$(ip netns exec "$NS_PREFIX-0" "$VPN" -v -i tk0 </dev/null 2>&1 >/dev/null | grep rx_packets= | keys)
[[ -n $got && $doc == "$got" ]] || fail "COUNTERS shows '$doc', vpn prints '$got'"
say "the man page's counters line has vpn's keys: $got"

# The example frame, from the hex in protocol.md.
fence='```'
hex=$(sed -n "/^${fence}text\$/,/^$fence\$/p" "$ROOT/docs/protocol.md" | sed -n '2,5p' |
    cut -c1-48 | tr -d ' \n')
[[ $hex == "$(frame "$(ip4_echo 10.1.1.2 10.1.1.1 1)")" ]] ||
	fail "protocol.md's example is $hex"
ns=$NS_PREFIX-1
ns_add "$ns"
ip -n "$ns" tuntap add dev tv0 mode tun
tun_up "$ns" tv0 10.1.1.1/24
mkfifo "$TMP/in"
exec 5<>"$TMP/in"
spawn ip netns exec "$ns" "$VPN" -i tv0 <"$TMP/in" >"$TMP/out" 5>&-
wait_for 5 carrier "$ns" tv0
hexbin "$hex" >&5
reply() { frames_in "$TMP/out" | grep "^45.\{22\}$(ip4hex 10.1.1.1)$(ip4hex 10.1.1.2)00" >/dev/null; }
wait_for 5 reply
exec 5>&-
say "protocol.md's example frame gets the kernel's echo reply"

# make install puts the binary and the man page where the README says.
dest=$TMP/dest
cd "$ROOT" && make install DESTDIR="$dest" >/dev/null
cmp -s "$ROOT/vpn" "$dest/usr/local/bin/vpn" || fail "make install: no /usr/local/bin/vpn"
[[ -x $dest/usr/local/bin/vpn ]] || fail "make install: vpn is not executable"
cmp -s "$man" "$dest/usr/local/share/man/man1/vpn.1" || fail "make install: no man1/vpn.1"
say "make install: bin/vpn and share/man/man1/vpn.1 under DESTDIR"
