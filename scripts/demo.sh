#!/bin/bash
# demo.sh - two sites joined by vpn, on this machine, in namespaces.
#
#  host A ── gateway A ══ "internet" ══ gateway B ── host B
#  172.16.1.1   client.sh   192.0.2.0/24,     server.sh   172.20.1.2
#                           198.51.100.0/24
#
# Builds the picture with scripts/netns.sh, starts server.sh on gateway B
# and client.sh on gateway A, shows host A reaching host B, and takes it
# all down again, even when interrupted.  Changes nothing outside its own
# namespaces.  Run as root: sudo make demo.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
P=vpndemo-$$
LOG='' SRV='' CLI=''

# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; exit 1; }
in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

cleanup() {
	local pid
	trap - EXIT INT TERM
	set +e
	for pid in $CLI $SRV; do	# the scripts undo their own changes
		kill -TERM "$pid" 2>/dev/null
		timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null
	done
	sites_down "$P"
	[[ -z $LOG ]] || rm -rf "$LOG"
}

# A wait that times out ends the demo.
wait_failed() { die "not true after $1 s: ${*:2} (logs: $LOG)"; }

# counters_of NS LOG: the counters of the vpn in NS (SIGUSR1), whose stderr
# goes to LOG.
counters_of() {
	counters_now "$(pid_of "$P-$1" "$VPN")" "$2"
}

usage() {
	cat <<EOF
usage: $PROGRAM [-h]

Build two sites in network namespaces, join them with server.sh and
client.sh, and show host A reaching host B: ping, TCP, iperf3 and vpn's
counters.  Installs what it needs first (scripts/deps.sh).  Must run as
root; changes nothing outside its namespaces, which it deletes at the end,
even when interrupted.
EOF
}

main() {
	case ${1:-} in
	-h)	usage; exit 0 ;;
	'')	;;
	*)	usage >&2; exit 2 ;;
	esac
	[[ $EUID -eq 0 ]] || die "run it as root: make demo"
	"$HERE/deps.sh" demo		# installs what is missing, or says so
	VPN=${VPN:-$ROOT/vpn}
	[[ -x $VPN ]] || make -C "$ROOT" vpn >/dev/null
	VPN=$(realpath "$VPN")
	export VPN
	LOG=$(mktemp -d /tmp/vpndemo.XXXXXX)
	export VPN_RUNDIR=$LOG/run	# the demo's tunnels, apart from real ones
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	say "== vpn demo: two sites, one tunnel, all in network namespaces =="
	say "   host A 172.16.1.1 -- gateway A ==[internet]== gateway B -- host B 172.20.1.2"
	sites_up "$P"
	in_ns gwb env --default-signal=INT "$HERE/server.sh" -r 172.16.1.0/24 \
	    2>"$LOG/server" &
	SRV=$!
	wait_for 5 grep -q 'Listening on' "$LOG/server"
	in_ns gwa env --default-signal=INT "$HERE/client.sh" -s 198.51.100.2 -l 10.1.1.2/24 \
	    -r 172.20.1.0/24 2>"$LOG/client" &
	CLI=$!
	wait_for 10 in_ns a ping -c 1 -W 1 172.20.1.2
	say ""
	say "server.sh on gateway B set up:"
	grep '^\[#\]' "$LOG/server" | sed 's/^/    /'
	say "client.sh on gateway A: tun0 10.1.1.2/24, route 172.20.1.0/24 into it;"
	say "    server.sh: $(grep -o "Connection received on [0-9.]*" "$LOG/server") (gateway A)"

	say ""
	say "1. host A pings host B (172.16.1.1 -> 172.20.1.2):"
	in_ns a ping -c 4 -i 0.2 -W 2 172.20.1.2 | tail -2 | sed 's/^/    /'

	say "2. a TCP connection from host A to host B:"
	echo "hello from host B (172.20.1.2)" | in_ns b nc -l -q 1 7777 >/dev/null &
	wait_for 5 listening "$P-b" 7777
	say "    host B answered: $(in_ns a nc -w 5 172.20.1.2 7777 </dev/null)"

	say "3. throughput, host A to host B through the tunnel (iperf3, 3 s):"
	in_ns b iperf3 -s -1 -D >/dev/null
	wait_for 5 listening "$P-b" 5201
	in_ns a iperf3 -c 172.20.1.2 -t 3 -f m | grep -E 'sender|receiver' |
	    awk '{ printf "    %s %s %s\n", $7, $8, $NF }'

	say "4. the counters of each end (SIGUSR1 to vpn):"
	say "    gateway A: $(counters_of gwa "$LOG/client")"
	say "    gateway B: $(counters_of gwb "$LOG/server")"

	say ""
	say "Taking it down: SIGTERM to client.sh and server.sh, which undo their changes."
	cleanup
	say "Done.  Run it by hand: docs in README.md; scripts/server.sh -h."
}

main "$@"
