#!/bin/bash
# tests/35-in-use.sh - refusals: in-use port or device, usage, preflight.
#
# - A second server on a port in use, or with a device that exists, and a
#   second client with a device that exists: exit 1 at once, with one clear
#   line, and the first instance untouched (its tunnel still works, its
#   rules are the same).
# - -h prints the usage on stdout, exit 0; a bad option or a missing -s
#   exits 2 with the usage on stderr; so does a value that would add to
#   socat's address (a comma, "!!"), and a vpn at a path with a blank is
#   refused.
# - Preflight: a vpn that is not there, and not being root, are said in
#   one line, before any change.
. "$(dirname "$0")/lib-sites.sh"

sites
server srv -r 172.16.1.0/24
wait_for 5 listening "$GWB" 33960
client cli -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
up_both
rules_b=$(ip netns exec "$GWB" iptables-save | grep vpn:)
links_b=$(ip -n "$GWB" -o link | sed 's/^[0-9]*: //; s/ link\/.*//; s/ state [A-Z]*//')

# refused NS WANT CMD...: CMD exits 1 within 2 s, saying exactly WANT.
refused() {
	local ns=$1 want=$2 rc=0 start=$SECONDS msg
	shift 2
	msg=$(timeout 5 ip netns exec "$ns" env VPN="$VPN" "$@" 2>&1) || rc=$?
	((rc == 1)) || fail "$*: exit $rc, want 1: $msg"
	[[ $msg == "$want" ]] || fail "$*: said '$msg', want '$want'"
	((SECONDS - start <= 2)) || fail "$*: took $((SECONDS - start)) s"
}
refused "$GWB" "server.sh: port 33960/tcp is in use (choose another with -p)" \
    "$SERVER_SH" -i tun5
refused "$GWB" "server.sh: tun0: device exists (another vpn? choose one with -i)" \
    "$SERVER_SH" -p 33999
refused "$GWA" "client.sh: tun0: device exists (another vpn? choose one with -i)" \
    "$CLIENT_SH" -s 198.51.100.2
[[ $(ip netns exec "$GWB" iptables-save | grep vpn:) == "$rules_b" ]] || fail "the first server's rules changed"
[[ $(ip -n "$GWB" -o link | sed 's/^[0-9]*: //; s/ link\/.*//; s/ state [A-Z]*//') == "$links_b" ]] ||
	fail "gateway B's links changed: $(ip -n "$GWB" -o link)"
ip netns exec "$A" ping -c 2 -i 0.2 -W 2 172.20.1.2 >/dev/null || fail "the first tunnel broke"
say "in-use port and devices refused; the first instance intact"

for s in "$SERVER_SH" "$CLIENT_SH"; do
	n=${s##*/}
	rc=0
	out=$("$s" -h 2>"$TMP/err") || rc=$?
	((rc == 0)) || fail "$n -h: exit $rc"
	[[ $out == "usage: $n "* && ! -s $TMP/err ]] || fail "$n -h: '${out:0:60}' on stdout, '$(cat "$TMP/err")' on stderr"
	rc=0
	"$s" -Z >"$TMP/out" 2>"$TMP/err" || rc=$?
	((rc == 2)) || fail "$n -Z: exit $rc, want 2"
	[[ ! -s $TMP/out && $(head -1 "$TMP/err") == "$n: -Z: unknown option" ]] ||
		fail "$n -Z: said '$(cat "$TMP/err")'"
	grep -q "^usage: $n " "$TMP/err" || fail "$n -Z: no usage on stderr"
done
rc=0
"$CLIENT_SH" -p 80 2>"$TMP/err" || rc=$?
[[ $rc == 2 && $(head -1 "$TMP/err") == "client.sh: -s server is required" ]] ||
	fail "client.sh without -s: exit $rc, said '$(head -1 "$TMP/err")'"
rc=0
"$SERVER_SH" -k soon 2>"$TMP/err" || rc=$?
[[ $rc == 2 && $(head -1 "$TMP/err") == "server.sh: -k: not a number from 0 to 86400: 'soon'" ]] ||
	fail "server.sh -k soon: exit $rc, said '$(head -1 "$TMP/err")'"
# Values that go into socat's addresses: a comma or "!!" would add options
# of the caller's choosing.
rc=0
"$CLIENT_SH" -T tls -s 198.51.100.2 -c 'c.pem,verify=0' -K k -C c 2>"$TMP/err" || rc=$?
[[ $rc == 2 && $(head -1 "$TMP/err") == "client.sh: -c: only letters, digits and _./+@%=- here: 'c.pem,verify=0'" ]] ||
	fail "client.sh -c with a comma: exit $rc, said '$(head -1 "$TMP/err")'"
rc=0
"$CLIENT_SH" -s '198.51.100.2!!x' 2>"$TMP/err" || rc=$?
[[ $rc == 2 && $(head -1 "$TMP/err") == "client.sh: -s: not a host name or address: '198.51.100.2!!x'" ]] ||
	fail "client.sh -s with !!: exit $rc, said '$(head -1 "$TMP/err")'"
mkdir -p "$TMP/a b"
cp "$VPN" "$TMP/a b/vpn"
rc=0
env VPN="$TMP/a b/vpn" "$SERVER_SH" -T udp 2>"$TMP/err" || rc=$?
[[ $rc == 1 && $(head -1 "$TMP/err") == *"vpn at a path without blanks"* ]] ||
	fail "VPN with a blank: exit $rc, said '$(head -1 "$TMP/err")'"
say "-h, bad options, missing -s, values that would change socat's addresses"

ns_add "$NS_PREFIX-x"
before=$(ip -n "$NS_PREFIX-x" -o link)
refused "$NS_PREFIX-x" "server.sh: missing: vpn ($TMP/none is not executable)" \
    env VPN="$TMP/none" "$SERVER_SH"
msg=$(ip netns exec "$NS_PREFIX-x" setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env VPN="$TMP/none" "$CLIENT_SH" -s 192.0.2.1 2>&1) && fail "client.sh as nobody: exit 0"
[[ $msg == "client.sh: missing: vpn ($TMP/none is not executable), root" ]] ||
	fail "client.sh as nobody: said '$msg'"
[[ $(ip -n "$NS_PREFIX-x" -o link) == "$before" ]] || fail "preflight changed the links"
say "preflight: what is missing, in one line, and nothing changed"
