#!/bin/bash
# status.sh - the tunnels server.sh and client.sh run on this host, at a
# glance.  See status.sh -h.  Reads what they keep under VPN_RUNDIR;
# changes nothing.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
RUNDIR=${VPN_RUNDIR:-/run/vpn}
FORMAT=table ALL=0 HERE='net-*'
FILE_MAX=65536			# bytes read of a state file, at most
ROW='%-10s %-6s %-5s %-26s %-8s %-24s %-7s %-7s %-7s %-7s %s\n'

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
        up_s, last_rx_s, last_tx_s); in values, a blank, a backslash and
        any byte that is not printable ASCII are written \\xHH

Environment: VPN_RUNDIR (default /run/vpn), where the scripts describe
their tunnels.  Exit 0, also when no tunnel runs (it says so).
EOF
}

# -- reading state files: parsed, never sourced (a state file must not run
# code), and only regular files (a FIFO would hang the listing)

# load FILE NAME: FILE's KEY=VALUE lines into the associative array NAME,
# the first of each key; nothing if FILE is not a regular file.
load() {
	local -n file_map=$2
	local line k
	file_map=()
	[[ -f $1 ]] || return 0
	while IFS= read -r line; do
		[[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
		k=${BASH_REMATCH[1]}
		# shellcheck disable=SC2004 # an associative array: $k is a key
		[[ -n ${file_map[$k]+set} ]] || file_map[$k]=${BASH_REMATCH[2]}
	done < <(head -c "$FILE_MAX" -- "$1" 2>/dev/null || true)
}

# load_counters FILE NAME: the KEY=VALUE words of vpn's counters file (-s).
load_counters() {
	local -n counters_map=$2
	local w words=()
	counters_map=()
	[[ -f $1 ]] || return 0
	read -ra words < <(head -c "$FILE_MAX" -- "$1" 2>/dev/null || true) || true
	for w in "${words[@]}"; do
		# shellcheck disable=SC2034 # the caller's array, by name
		[[ $w != *=* ]] || counters_map[${w%%=*}]=${w#*=}
	done
}

# unquote VALUE: VALUE as printf %q wrote it (the scripts' conf), in UNQ:
# '' is empty, \X is X; $'...' (control characters) stays as written.
unquote() {
	local v=$1 i
	UNQ=''
	if [[ $v == "''" || $v == \$\'* ]]; then
		[[ $v == "''" ]] || UNQ=$v
		return
	fi
	for ((i = 0; i < ${#v}; i++)); do
		[[ ${v:i:1} != \\ ]] || i=$((i + 1))
		UNQ+=${v:i:1}
	done
}

# unquote_array VALUE: (A B ...) as the conf has it, its words unquoted
# and joined by blanks, in UNQ.
unquote_array() {
	local v=${1#(} w words=() parts=()
	read -ra words <<<"${v%)}"
	for w in "${words[@]}"; do
		unquote "$w"
		parts+=("$UNQ")
	done
	UNQ=${parts[*]}
}

# -- showing values: what a peer or a user wrote is never printed raw

# shown VALUE: for the table: bytes that are not printable ASCII as "?",
# blanks as "_" (one column, one word).
shown() {
	local v=${1//[^[:print:]]/?}
	printf '%s' "${v// /_}"
}

# escaped VALUE: for -k: one word, whatever VALUE holds: a blank, a
# backslash or a byte that is not printable ASCII as \xHH.
escaped() {
	local v=$1 esc='' c i
	for ((i = 0; i < ${#v}; i++)); do
		c=${v:i:1}
		if [[ $c == [[:graph:]] && $c != \\ ]]; then
			esc+=$c
		else
			printf -v c '\\x%02x' "'$c"
			esc+=$c
		fi
	done
	printf '%s' "$esc"
}

# number VALUE: VALUE is a count or a time in seconds, nothing else.
number() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }

# ago EPOCH: seconds from EPOCH (seconds, maybe with a fraction) to now;
# "-" if it is not a time ("-" is what a session not up has).
ago() {
	if ! number "$1" || [[ $1 == 0 ]]; then
		echo -
		return
	fi
	awk -v t="$1" -v now="$NOW" 'BEGIN { printf "%.1f", now - t }'
}

# human SECS: 3d4h, 5m12s, 4.2s.
human() {
	number "$1" || { echo -; return; }
	awk -v s="$1" 'BEGIN {
	    if (s < 60) printf "%.1fs", s
	    else if (s < 3600) printf "%dm%02ds", s / 60, s % 60
	    else if (s < 86400) printf "%dh%02dm", s / 3600, s % 3600 / 60
	    else printf "%dd%02dh", s / 86400, s % 86400 / 3600 }'
}

# bytes N: 12.3M, 1.1K.
bytes() {
	number "$1" || { echo -; return; }
	awk -v b="$1" 'BEGIN { split("B K M G T", u); i = 1
	    while (b >= 1024 && i < 5) { b /= 1024; i++ }
	    printf (i == 1 ? "%d%s" : "%.1f%s"), b, u[i] }'
}

# row SESSION: one line of the tunnel in CONF (a session file, or none
# yet).
row() {
	local s=$1 dev role transport peer=- name=- addr since=- up last_rx last_tx
	local k line
	local -A sess=() st=()
	dev=${CONF[IFACE]} role=${CONF[ROLE]} transport=${CONF[TRANSPORT]:-}
	unquote "$dev"; dev=$UNQ
	unquote "$transport"; transport=$UNQ
	unquote_array "${CONF[ADDRS]:-}"; addr=$UNQ
	if [[ $role == client ]]; then
		unquote "${CONF[SERVER]:-}"; peer=$UNQ
		unquote "${CONF[PORT]:-}"; peer+=:$UNQ
	fi
	if [[ -n $s ]]; then
		load "$s" sess
		dev=${sess[dev]:-$dev} peer=${sess[peer]:-$peer} name=${sess[name]:-}
		since=${sess[since]:--} addr=${sess[addr]:-$addr}
		load_counters "$s.stats" st
	fi
	up=$(ago "$since") last_rx=$(ago "${st[last_rx]:-}")
	last_tx=$(ago "${st[last_tx]:-}")
	name=${name:--} addr=${addr:--} peer=${peer// /_}
	if [[ $FORMAT == kv ]]; then
		line="dev=$(escaped "$dev") role=$(escaped "$role")"
		line+=" transport=$(escaped "$transport") peer=$(escaped "$peer")"
		line+=" name=$(escaped "$name") addr=$(escaped "${addr// /,}")"
		line+=" up_s=$up last_rx_s=$last_rx last_tx_s=$last_tx"
		for k in rx_packets rx_bytes rx_dropped rx_invalid tx_packets \
		    tx_bytes tx_dropped tx_invalid keepalives_rx keepalives_tx; do
			line+=" $k=$(escaped "${st[$k]:--}")"
		done
		echo "$line"
	else
		# shellcheck disable=SC2059 # ROW is the one format of the table
		printf "$ROW" "$(shown "$dev")" "$(shown "$role")" \
		    "$(shown "$transport")" "$(shown "$peer")" "$(shown "$name")" \
		    "$(shown "${addr// /,}")" "$(human "$up")" "$(human "$last_rx")" \
		    "$(human "$last_tx")" "$(bytes "${st[rx_bytes]:-}")" \
		    "$(bytes "${st[tx_bytes]:-}")"
	fi
}

# tunnel CONF: the lines of the tunnel whose conf file is CONF: a line a
# session, or one for the tunnel if none is up.  1, and a note on stderr,
# if CONF is not whole (caught as it is written, say).
tunnel() {
	local s any=0
	load "$1" CONF
	if [[ -z ${CONF[IFACE]:-} || ! ${CONF[ROLE]:-} =~ ^(client|server)$ ]]; then
		printf '%s: %s: not a whole description (being written?): skipped\n' \
		    "$PROGRAM" "$(shown "$1")" >&2
		return 1
	fi
	if ((SHOWN++ == 0)) && [[ $FORMAT == table ]]; then
		# shellcheck disable=SC2059 # ROW is the one format of the table
		printf "$ROW" DEVICE ROLE VIA PEER NAME ADDRESS UP LAST-RX LAST-TX RX TX
	fi
	for s in "${1%/conf}"/sessions/*; do
		# An empty one: a session as -u's user ended (it cannot remove it).
		[[ -s $s && $s != *.stats && $s != *.lock ]] || continue
		row "$s"
		any=1
	done
	((any)) || row ''
}

main() {
	local conf o skipped=0
	declare -gA CONF=()
	SHOWN=0
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
		[[ -f $conf ]] || continue
		tunnel "$conf" || skipped=$((skipped + 1))
	done
	((SHOWN + skipped > 0)) || echo "no tunnel is running (nothing in $RUNDIR)"
}

main "$@"
