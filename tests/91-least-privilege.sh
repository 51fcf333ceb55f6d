#!/bin/bash
# tests/91-least-privilege.sh - -u USER: root only for the script.
#
# server.sh and client.sh with -u nobody keep root for the device, the
# addresses, routes and rules, and run vpn and the transport as nobody:
# - over nc and over TLS (socat), while host A and host B ping each other
#   and 2 MiB cross, every process of the session on either gateway runs
#   as nobody, but the scripts themselves;
# - the device belongs to nobody;
# - SIGTERM leaves the gateways as they were.
# - A key nobody cannot read is refused at start, naming the file.
# - Over UDP, the client's socat and vpn run as nobody too.
# - The client's FIFO directory and FIFOs stay root's: nobody cannot put a
#   link where root opens one.
. "$(dirname "$0")/lib-sites.sh"
need socat openssl setpriv

# as_root NS: the processes in NS running as root, but the scripts.
as_root() {
	local pid
	for pid in $(ip netns pids "$1"); do
		[[ $(awk '/^Uid:/ { print $3 }' "/proc/$pid/status" 2>/dev/null) == 0 ]] || continue
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		server.sh|client.sh) ;;
		*) echo "$pid:$(tr '\0' ' ' <"/proc/$pid/cmdline")" ;;
		esac
	done
}

P=$TMP/pki
mkdir -p "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/ca.key" \
    -out "$P/ca.crt" -days 2 -subj /CN=ca 2>/dev/null
for n in server client; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$n.key" \
	    -out "$P/$n.csr" -subj "/CN=$n" 2>/dev/null
	printf 'subjectAltName=IP:198.51.100.2\n' >"$P/$n.ext"
	openssl x509 -req -in "$P/$n.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
	    -days 2 -extfile "$P/$n.ext" -out "$P/$n.crt" 2>/dev/null
done
chmod 0755 "$TMP" "$P"

sites
a0=$(snapshot "$GWA") b0=$(snapshot "$GWB")

# Debian makes /dev/net/tun 0666; this machine may not.  Over TLS the
# server's vpn starts as nobody (its socat's child): it gets a 0666 node of
# the test's own, bound over /dev/net/tun in a mount namespace.
mknod -m 0666 "$TMP/tun" c 10 200
tun_node() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$GWB" unshare -m --propagation private sh -c \
	    'mount --bind "$1" /dev/net/tun && shift && exec "$@"' - "$TMP/tun" \
	    env --default-signal=INT VPN="$VPN" TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" \
	    "$SERVER_SH" "$@" 2>"$TMP/srv-tls.log"
	SCRIPTS+=("$!")
}

# run TRANSPORT SARGS -- CARGS: both scripts with -u nobody over
# TRANSPORT.
run() {
	local t=$1 srv cli bad sargs=()
	shift
	while [[ $1 != -- ]]; do
		sargs+=("$1")
		shift
	done
	shift
	if [[ $t == tls ]]; then
		tun_node -u nobody -T "$t" "${sargs[@]}" -r 172.16.1.0/24
	else
		server "srv-$t" -u nobody -T "$t" "${sargs[@]}" -r 172.16.1.0/24
	fi
	srv=$!
	wait_for 5 listening "$GWB" 33960
	client "cli-$t" -u nobody -T "$t" "$@" -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
	cli=$!
	up_both
	transfer_check "$A" "$B" 172.20.1.2 2
	for ns in "$GWA" "$GWB"; do
		bad=$(as_root "$ns")
		[[ -z $bad ]] || fail "$t: in $ns, run as root: $bad"
		[[ $(stat -c %U "/proc/$(pid_of "$ns" "$VPN")") == nobody ]] ||
			fail "$t: vpn in $ns does not run as nobody"
		[[ $(ip netns exec "$ns" cat /sys/class/net/tun0/owner) == "$(id -u nobody)" ]] ||
			fail "$t: tun0 in $ns does not belong to nobody"
	done
	stop "$cli" "cli-$t"
	stop "$srv" "srv-$t"
	same_as "$a0" "$GWA" "$t: client.sh -u nobody"
	same_as "$b0" "$GWB" "$t: server.sh -u nobody"
}
check "over nc: vpn and nc run as nobody, the scripts alone as root" run nc --
chmod 0644 "$P"/*.key
check "over TLS: vpn and socat run as nobody, the scripts alone as root" \
    run tls -c "$P/server.crt" -K "$P/server.key" -C "$P/ca.crt" -- \
    -c "$P/client.crt" -K "$P/client.key" -C "$P/ca.crt"

unreadable() {
	local rc=0 msg
	chmod 0600 "$P/client.key"
	msg=$(ip netns exec "$GWA" env VPN="$VPN" VPN_RUNDIR="$TMP/rundir" "$CLIENT_SH" -u nobody \
	    -T tls -c "$P/client.crt" -K "$P/client.key" -C "$P/ca.crt" -s 198.51.100.2 \
	    -l 10.1.1.2/24 2>&1) || rc=$?
	((rc == 1)) || fail "a key nobody cannot read: exit $rc, want 1: $msg"
	[[ $msg == "client.sh: $P/client.key: nobody (-u) cannot read it" ]] ||
		fail "a key nobody cannot read: said '$msg'"
}
check "a key -u's user cannot read: refused at start, naming it" unreadable

# client_node NAME ARGS...: client.sh on gateway A as tun_node runs
# server.sh, with a 0666 node of /dev/net/tun; its log $TMP/NAME.log.
client_node() {
	local name=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner sh
	spawn ip netns exec "$GWA" unshare -m --propagation private sh -c \
	    'mount --bind "$1" /dev/net/tun && shift && exec "$@"' - "$TMP/tun" \
	    env --default-signal=INT VPN="$VPN" TMPDIR="$TMP/run" VPN_RUNDIR="$TMP/rundir" \
	    "$CLIENT_SH" "$@" 2>"$TMP/$name.log"
	SCRIPTS+=("$!")
}

# client.sh -T udp -u nobody: socat and vpn run as nobody, and vpn's
# counters' file is nobody's own in a directory that stays root's (vpn
# could not open it, and the client never came up).
udp_client() {
	local srv cli bad d
	server srv-udp0 -T udp -r 172.16.1.0/24
	srv=$!
	wait_for 5 listening "$GWB" 33960 u
	client_node cli-udpu -u nobody -T udp -s 198.51.100.2 -l 10.1.1.2/24 -r 172.20.1.0/24
	cli=$!
	up_both
	bad=$(as_root "$GWA")
	[[ -z $bad ]] || fail "udp: in $GWA, run as root: $bad"
	[[ $(stat -c %U "/proc/$(pid_of "$GWA" "$VPN")") == nobody ]] ||
		fail "udp: the client's vpn does not run as nobody"
	d=$TMP/rundir/net-$(ip netns exec "$GWA" stat -L -c %i /proc/self/ns/net)/tun0/sessions
	[[ $(stat -c %U "$d") == root ]] || fail "udp: $d is not root's"
	stop "$cli" cli-udpu
	stop "$srv" srv-udp0
	same_as "$a0" "$GWA" "udp: client.sh -u nobody"
	same_as "$b0" "$GWB" "udp: server.sh"
}
check "over UDP: the client's vpn and socat run as nobody" udp_client

# The FIFO directory of client.sh -u stays root's, and so do its FIFOs:
# nobody cannot put a link where root opens one (it owned them, and root
# truncated and wrote what such a link named on every attempt).
fifo_dir() {
	local d cli
	echo precious >"$TMP/victim"
	client cli-dir -u nobody -s 198.51.100.2 -p 33999 -l 10.1.1.2/24 -k 1 -t 3
	cli=$!
	wait_for 5 said cli-dir "connecting to"
	d=$(find "$TMP/run" -mindepth 1 -maxdepth 1 -name 'vpn-tun0.*')
	[[ -n $d && $(stat -c '%U %a' "$d") == "root 700" ]] ||
		fail "the FIFO directory '$d' is $(stat -c '%U %a' "$d"), want root 700"
	[[ -z $(find "$d" ! -user root) ]] || fail "not root's: $(find "$d" ! -user root)"
	! setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
	    ln -sf "$TMP/victim" "$d/err" 2>/dev/null || fail "nobody put a link in $d"
	wait_for 5 attempts cli-dir 2
	stop "$cli" cli-dir
	[[ $(cat "$TMP/victim") == precious ]] || fail "the victim file now holds '$(cat "$TMP/victim")'"
}
check "client.sh -u: its FIFO directory stays root's" fifo_dir

# server.sh -M -u: the instance's directory and its sessions directory
# stay root's (they were nobody's, who put links where root's vpn wrote
# its counters, and forged leases); vpn, which opens its counters' file
# before it drops to nobody, writes root's own file.
many_dirs() {
	local srv cli s as_nobody
	echo precious >"$TMP/victim"
	server srv-many -M 2 -u nobody -k 1 -t 3 -r 172.16.1.0/24
	srv=$!
	wait_for 5 listening "$GWB" 33960
	client cli-many -s 198.51.100.2 -r 172.20.1.0/24 -k 1 -t 3
	cli=$!
	wait_for 10 reach "$GWA" 10.1.1.1
	s=$TMP/rundir/net-$(ip netns exec "$GWB" stat -L -c %i /proc/self/ns/net)/tun0/sessions
	[[ -f $s/1.stats ]] || fail "no counters' file in $s: $(ls "$s")"
	[[ $(stat -c %U "${s%/sessions}") == root && $(stat -c %U "$s") == root ]] ||
		fail "$s is $(stat -c %U "$s")'s, its parent $(stat -c %U "${s%/sessions}")'s, want root's"
	[[ $(stat -c %U "$s/1.stats") == root ]] || fail "$s/1.stats is $(stat -c %U "$s/1.stats")'s"
	as_nobody=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
	! "${as_nobody[@]}" ln -s "$TMP/victim" "$s/2.stats" 2>/dev/null || fail "nobody put a link in $s"
	! "${as_nobody[@]}" touch "$s/2" 2>/dev/null || fail "nobody wrote a lease in $s"
	[[ $(stat -c %U "/proc/$(pid_of "$GWB" "$VPN")") == nobody ]] ||
		fail "the session's vpn does not run as nobody"
	stop "$cli" cli-many
	stop "$srv" srv-many
	[[ $(cat "$TMP/victim") == precious ]] || fail "the victim file now holds '$(cat "$TMP/victim")'"
	same_as "$b0" "$GWB" "server.sh -M -u nobody"
}
check "server.sh -M -u: the state directories stay root's" many_dirs
