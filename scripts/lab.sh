#!/bin/bash
# lab.sh - the README's picture in network namespaces, to practise in.
# See lab.sh -h.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P=${LAB:-lab}
UP=0 NAP=''

# shellcheck source=scripts/netns.sh
. "$HERE/netns.sh"

usage() {
	cat <<EOF
usage: $PROGRAM [-h]

Build the two sites of README.md in network namespaces named after
\$LAB (default "lab"): $P-a (host A), $P-gwa (gateway A), $P-inet (the
internet), $P-gwb (gateway B) and $P-b (host B), with the addresses of
docs/howto.md.  Then wait: open a shell in a host with
"ip netns exec $P-gwb bash", and follow the recipes there.  Ctrl-C or
SIGTERM deletes the namespaces and whatever runs in them; nothing outside
them changes.  Must run as root.
EOF
}

cleanup() {
	trap '' INT TERM
	trap - EXIT
	[[ -z $NAP ]] || kill "$NAP" 2>/dev/null || true
	((UP)) || return 0
	sites_down "$P"
	echo "$PROGRAM: the lab is gone" >&2
}

main() {
	local ns
	case ${1:-} in
	-h)	usage; exit 0 ;;
	'')	;;
	*)	usage >&2; exit 2 ;;
	esac
	[[ $EUID -eq 0 ]] || { echo "$PROGRAM: must run as root" >&2; exit 1; }
	[[ $P =~ ^[a-z0-9]{1,8}$ ]] || { echo "$PROGRAM: LAB: 1 to 8 letters or digits: '$P'" >&2; exit 2; }
	for ns in $(sites_names "$P"); do
		[[ ! -e /run/netns/$ns ]] || { echo "$PROGRAM: $ns exists (another lab? set LAB)" >&2; exit 1; }
	done
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	UP=1
	sites_up "$P"
	cat >&2 <<EOF
$PROGRAM: the lab is up.  A shell in each host, from another terminal:
  ip netns exec $P-a bash      host A      172.16.1.1
  ip netns exec $P-gwa bash    gateway A   172.16.1.254, 192.0.2.2 (NAT)
  ip netns exec $P-inet bash   internet    192.0.2.1, 198.51.100.1
  ip netns exec $P-gwb bash    gateway B   198.51.100.2, 172.20.1.1
  ip netns exec $P-b bash      host B      172.20.1.2
Ctrl-C here takes it all down.
EOF
	sleep infinity &
	NAP=$!
	wait "$NAP"
}

main "$@"
