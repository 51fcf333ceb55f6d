# shellcheck shell=bash
# scripts/pool.sh - the address pool of a server with many clients (-M),
# and its leases.  Sourced by server.sh and session.sh, never run.
#
# Session N (a slot, 1 to max) has the device IFACE-N and, in each -l
# prefix, the Nth address of the prefix other than the server's own (and,
# in IPv4, the network and broadcast addresses): with 10.1.1.1/24, session
# 1 is 10.1.1.2, session 2 10.1.1.3.  A lease is the file
# STATE/sessions/N, made under STATE/lock, saying which process holds
# the slot; a slot whose process is gone is free.

# -- addresses

ip4_int() {
	local IFS=. a
	read -ra a <<<"$1"
	echo $(((a[0] << 24) + (a[1] << 16) + (a[2] << 8) + a[3]))
}

int_ip4() {
	echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

# ip6_words ADDR: the 8 16-bit words of an IPv6 address, as numbers.
ip6_words() {
	local head tail w=() h=() t=() i
	if [[ $1 == *::* ]]; then
		head=${1%%::*} tail=${1#*::}
	else
		head=$1 tail=''
	fi
	IFS=: read -ra h <<<"$head"
	IFS=: read -ra t <<<"$tail"
	w=("${h[@]}")
	for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do
		w+=(0)
	done
	w+=("${t[@]}")
	for i in "${w[@]}"; do
		printf '%d ' "$((16#${i:-0}))"
	done
}

# host_bits CIDR: how many low bits the pool varies (at most 32).
host_bits() {
	local p=${1#*/} len=32
	[[ $1 != *:* ]] || len=128
	p=$((len - p))
	echo $((p > 32 ? 32 : p))
}

# low32 ADDR: the address's low 32 bits.
low32() {
	local w
	if [[ $1 == *:* ]]; then
		read -ra w <<<"$(ip6_words "$1")"
		echo $(((w[6] << 16) + w[7]))
	else
		ip4_int "$1"
	fi
}

# with_low32 ADDR N: ADDR with its low 32 bits replaced by N.
with_low32() {
	local w
	if [[ $1 == *:* ]]; then
		read -ra w <<<"$(ip6_words "$1")"
		printf '%x:%x:%x:%x:%x:%x:%x:%x' "${w[@]:0:6}" $(($2 >> 16)) $(($2 & 65535)) |
		    sed -E 's/(^|:)0(:0)+(:|$)/::/'
	else
		int_ip4 "$2"
	fi
}

# pool_size CIDR: the addresses the prefix has for clients.
pool_size() {
	local bits
	bits=$(host_bits "$1")
	echo $(((1 << bits) - 3))	# the net, the server, IPv4's broadcast
}

# slot_addr CIDR N: session N's address in the prefix (no length).
slot_addr() {
	local bits mask base server host
	bits=$(host_bits "$1")
	mask=$(((1 << bits) - 1))
	base=$(($(low32 "${1%/*}") & ~mask & 0xffffffff))
	server=$(($(low32 "${1%/*}") & mask))
	host=$2
	((host < server)) || host=$((host + 1))
	with_low32 "${1%/*}" $((base + host))
}

# slot_of CIDR ADDR: the session number of ADDR in the prefix, or nothing.
slot_of() {
	local bits mask base server a n
	bits=$(host_bits "$1")
	mask=$(((1 << bits) - 1))
	base=$(($(low32 "${1%/*}") & ~mask & 0xffffffff))
	server=$(($(low32 "${1%/*}") & mask))
	a=$(low32 "$2")
	(((a & ~mask & 0xffffffff) == base)) || return 0
	n=$((a & mask))
	((n != 0 && n != server)) || return 0
	((n < server)) || n=$((n - 1))
	((n <= $(pool_size "$1"))) && echo "$n"
	return 0
}

# pool_check CIDR...: one IPv4 and at most one IPv6 prefix, each with room
# for MAX clients.
pool_check() {
	local a v4=0 v6=0 size
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			v6=$((v6 + 1))
			((${a#*/} >= 64 && ${a#*/} <= 126)) ||
				usage_error "-l: with -M, an IPv6 prefix of /64 to /126: '$a'"
		else
			v4=$((v4 + 1))
			((${a#*/} >= 8 && ${a#*/} <= 30)) ||
				usage_error "-l: with -M, an IPv4 prefix of /8 to /30: '$a'"
		fi
		size=$(pool_size "$a")
		((size >= MAX)) ||
			usage_error "-l: $a has $size addresses for clients, fewer than -M $MAX"
	done
	((v4 <= 1 && v6 <= 1)) || usage_error "-l: with -M, one IPv4 and one IPv6 prefix at most"
}

# identities_check FILE: each line "NAME ADDRESS [ADDRESS6]", the addresses
# in the pool, no name or address twice.
identities_check() {
	local name a extra n=0 slot seen=' ' names=' '
	[[ -r $1 ]] || die "$1 (-A): cannot read it"
	while read -r name a extra; do
		n=$((n + 1))
		[[ -n $name && $name != \#* ]] || continue
		[[ $name =~ ^[A-Za-z0-9_.@-]+$ ]] || die "$1:$n: not a name: '$name'"
		[[ $names != *" $name "* ]] || die "$1:$n: $name: named twice"
		names+="$name "
		slot=$(ident_slot_of "$a")
		[[ -n $slot ]] || die "$1:$n: $a: not a client address of ${ADDRS[*]}"
		[[ $seen != *" $slot "* ]] || die "$1:$n: $a: given twice"
		seen+="$slot "
		[[ -z $extra || $(ident_slot_of "${extra%% *}") == "$slot" ]] ||
			die "$1:$n: ${extra%% *}: not the same client number as $a"
	done <"$1"
}

# ident_slot_of ADDR: the session number ADDR has in its family's prefix.
ident_slot_of() {
	local p
	for p in "${ADDRS[@]}"; do
		if [[ $(family "$1") == $(family "$p") ]]; then
			slot_of "$p" "$1"
			return
		fi
	done
}

# -- leases

# lease_pid FILE: the process holding the lease.
lease_pid() { sed -n 's/^pid=//p' "$1"; }

# live_leases STATE: the slots held by a process still running.
live_leases() {
	local f pid
	for f in "$1"/sessions/*; do
		[[ -e $f ]] || continue
		pid=$(lease_pid "$f")
		[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || echo "${f##*/}"
	done
}

# purge_lease STATE FILE: what a session that was killed left: its device
# (its addresses and routes go with it), its rules, its lease.
purge_lease() {
	local n=${2##*/} cmd rule
	# shellcheck disable=SC1091 # the instance's own configuration
	IFACE=$(. "$1/conf" && echo "$IFACE")
	! ip link show dev "$IFACE-$n" >/dev/null 2>&1 ||
		ip link del dev "$IFACE-$n" 2>/dev/null || true
	for cmd in iptables ip6tables; do
		command -v "$cmd" >/dev/null || continue
		"$cmd-save" -t raw 2>/dev/null | grep -- "--comment \"\?vpn:$IFACE-$n\"\? " |
		    sed 's/^-A /-D /; s/"//g' | while read -r rule; do
			# shellcheck disable=SC2086 # the rule's words, as saved
			"$cmd" -w -t raw $rule 2>/dev/null || true
		done
	done
	rm -f "$2" "$2.stats"
}
