#!/bin/bash
# status.sh - the tunnels server.sh and client.sh run on this host, at a
# glance.  See status.sh -h.  Reads what they keep under VPN_RUNDIR;
# changes nothing.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
RUNDIR=${VPN_RUNDIR:-/run/vpn}
FORMAT=table ALL=0 HERE='net-*'

usage() {
	cat <<EOF
usage: $PROGRAM [-ahk]

List every tunnel that server.sh and client.sh run on this host (in this
network namespace; with -a, in all of them): its
device, role, transport, peer, addresses, how long its session has been
up, how long since a frame came from the peer and went to it, and vpn's
counters; for a server with many clients, one line a session.  A tunnel
whose transport is not connected shows its device and "-" for the rest.

  -a    all network namespaces, not only this one
  -h    print this help and exit
  -k    one line of key=value pairs a tunnel, for programs (keys as in
        vpn(1)'s COUNTERS, and dev, role, transport, peer, name, addr,
        up_s, last_rx_s, last_tx_s)

Environment: VPN_RUNDIR (default /run/vpn), where the scripts describe
their tunnels.  Exit 0, also when no tunnel runs (it says so).
EOF
}

# kv FILE KEY: KEY's value in FILE, a key=value a line (a session).
kv() {
	[[ -r $1 ]] || return 0
	sed -n "s/^$2=//p" "$1" | head -1
}

# counter FILE KEY: KEY's value in FILE, vpn's line of key=value pairs.
counter() {
	[[ -r $1 ]] || return 0
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | head -1
}

# ago EPOCH: seconds from EPOCH (seconds, maybe with a fraction) to now.
ago() {
	[[ -n $1 && $1 != 0 ]] || { echo -; return; }
	awk -v t="$1" -v now="$NOW" 'BEGIN { printf "%.1f", now - t }'
}

# human SECS: 3d4h, 5m12s, 4.2s.
human() {
	[[ $1 != - ]] || { echo -; return; }
	awk -v s="$1" 'BEGIN {
	    if (s < 60) printf "%.1fs", s
	    else if (s < 3600) printf "%dm%02ds", s / 60, s % 60
	    else if (s < 86400) printf "%dh%02dm", s / 3600, s % 3600 / 60
	    else printf "%dd%02dh", s / 86400, s % 86400 / 3600 }'
}

# bytes N: 12.3M, 1.1K.
bytes() {
	[[ -n $1 ]] || { echo -; return; }
	awk -v b="$1" 'BEGIN { split("B K M G T", u); i = 1
	    while (b >= 1024 && i < 5) { b /= 1024; i++ }
	    printf (i == 1 ? "%d%s" : "%.1f%s"), b, u[i] }'
}

# row CONF SESSION: one tunnel (a session file, or none yet).
row() {
	local conf=$1 s=$2 stats dev role transport peer name addr since up
	local last_rx last_tx k line
	# shellcheck disable=SC1090,SC2153 # the instance's own description
	(
		. "$conf"
		dev=$IFACE role=$ROLE transport=$TRANSPORT peer=- name=- addr="${ADDRS[*]}"
		[[ $role != client ]] || peer="$SERVER:$PORT"
		since=-
		if [[ -n $s && -r $s ]]; then
			dev=$(kv "$s" dev) peer=$(kv "$s" peer) name=$(kv "$s" name)
			since=$(kv "$s" since)
			[[ -z $(kv "$s" addr) ]] || addr=$(kv "$s" addr)
		fi
		stats=$s.stats
		up=$(ago "$since") last_rx=$(ago "$(counter "$stats" last_rx)")
		last_tx=$(ago "$(counter "$stats" last_tx)")
		name=${name:--} addr=${addr:--} peer=${peer// /_}
		if [[ $FORMAT == kv ]]; then
			line="dev=$dev role=$role transport=$transport peer=$peer"
			line+=" name=$name addr=${addr// /,} up_s=$up last_rx_s=$last_rx"
			line+=" last_tx_s=$last_tx"
			for k in rx_packets rx_bytes rx_dropped rx_invalid tx_packets \
			    tx_bytes tx_dropped tx_invalid keepalives_rx keepalives_tx; do
				line+=" $k=$(counter "$stats" "$k")"
			done
			echo "$line"
		else
			printf '%-10s %-6s %-5s %-26s %-8s %-24s %-7s %-7s %-7s %-7s %s\n' \
			    "$dev" "$role" "$transport" "$peer" "$name" "${addr// /,}" \
			    "$(human "$up")" "$(human "$last_rx")" "$(human "$last_tx")" \
			    "$(bytes "$(counter "$stats" rx_bytes)")" \
			    "$(bytes "$(counter "$stats" tx_bytes)")"
		fi
	)
}

main() {
	local conf s n=0 any
	while getopts ahk o; do
		case $o in
		a)	ALL=1 ;;
		h)	usage; exit 0 ;;
		k)	FORMAT=kv ;;
		*)	usage >&2; exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	(($# == 0)) || { usage >&2; exit 2; }
	NOW=$(date +%s.%N)
	((ALL)) || HERE=net-$(stat -L -c %i /proc/self/ns/net)
	# shellcheck disable=SC2231 # HERE may be a pattern (-a)
	for conf in "$RUNDIR"/$HERE/*/conf; do
		[[ -r $conf ]] || continue
		if ((n++ == 0)) && [[ $FORMAT == table ]]; then
			printf '%-10s %-6s %-5s %-26s %-8s %-24s %-7s %-7s %-7s %-7s %s\n' \
			    DEVICE ROLE VIA PEER NAME ADDRESS UP LAST-RX LAST-TX RX TX
		fi
		any=0
		for s in "${conf%/conf}"/sessions/*; do
			[[ -f $s && $s != *.stats && $s != *.lock ]] || continue
			row "$conf" "$s"
			any=1
		done
		((any)) || row "$conf" ''
	done
	((n > 0)) || echo "no tunnel is running (nothing in $RUNDIR)"
}

main "$@"
