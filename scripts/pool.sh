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

# A client's name (its certificate's common name, the name in an ssh key's
# forced command, the names of -A): it goes into leases, logs and
# vpn-status's fields, so it is a plain word or it is refused.
NAME_RE='^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'

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
		[[ $name =~ $NAME_RE ]] || die "$1:$n: not a name (letters, digits, ._@-; 64 at most): '$name'"
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

# A lease file holds key=value lines: pid and start, the session.sh that
# holds the slot; name, peer, dev, addr, since, what vpn-status shows; and,
# once it runs, vpn and vpn_start, the session's vpn.  Only root writes
# them (STATE/sessions is root's), and a PID read from one is still
# signalled only once proc_is has found it to be the process named.

# lease_key FILE KEY: KEY's value in the lease FILE.
lease_key() { sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1; }

# proc_start PID: when process PID started (clock ticks since boot, field
# 22 of /proc/PID/stat), or nothing if there is none.  A PID is reused; a
# PID and its start time name one process for good.
proc_start() {
	local stat f
	[[ $1 =~ ^[1-9][0-9]{0,9}$ ]] || return 0
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }	# after the name, which may hold anything
	read -ra f <<<"$stat"
	echo "${f[19]:-}"
}

# proc_is PID START [ARG]: PID is the process that started at START and,
# if ARG is given, has ARG among its arguments.
proc_is() {
	[[ -n $2 && $(proc_start "$1") == "$2" ]] || return 1
	[[ -z ${3:-} ]] || tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$3"
}

# lease_live FILE: the session.sh that wrote the lease FILE still runs.
lease_live() {
	proc_is "$(lease_key "$1" pid)" "$(lease_key "$1" start)" "$STATE"
}

# lease_stop FILE: SIGTERM to the session.sh of the lease FILE, if it runs.
lease_stop() {
	! lease_live "$1" || kill "$(lease_key "$1" pid)" 2>/dev/null || true
}

# is_lease FILE: FILE is the lease of a slot (not its .stats, nor the
# files of a server without -M).
is_lease() { [[ -f $1 && ${1##*/} =~ ^[1-9][0-9]*$ ]]; }

# live_leases STATE: the slots held by a session.sh still running.
live_leases() {
	local f
	for f in "$1"/sessions/*; do
		! is_lease "$f" || ! lease_live "$f" || echo "${f##*/}"
	done
}

# purge_lease STATE FILE: what a session that died without its clean-up
# (SIGKILL) left: its vpn, if it still runs (the lease names it), its
# device (its addresses and routes go with it), its rules, its lease.
# Never fails: a slot must not stay blocked by what cannot be cleared.
purge_lease() {
	local n=${2##*/} prefix pid
	# shellcheck disable=SC1091 # the instance's own configuration
	prefix=$(. "$1/conf" && echo "$IFACE")
	pid=$(lease_key "$2" vpn)
	if proc_is "$pid" "$(lease_key "$2" vpn_start)" "$2.stats"; then
		say "session $n: its session.sh is gone; ending its vpn (pid $pid)"
		kill "$pid" 2>/dev/null || true
	fi
	dev_gone "$prefix-$n" "$2" || true
	rules_gone "vpn:$prefix-$n" raw
	rm -f "$2" "$2.stats"
}

# ifindex DEV: the device's index, or nothing if there is no DEV.
ifindex() { ip -o link show dev "$1" 2>/dev/null | cut -d: -f1; }

# dev_gone DEV LEASE: DEV deleted, if it is the session's of LEASE: the
# device whose index the lease recorded when the session made it.  Never
# another's, even of that name.
dev_gone() {
	local idx
	idx=$(ifindex "$1")
	[[ -n $idx && $idx == "$(lease_key "$2" ifindex)" ]] || return 0
	run ip link del dev "$1"
}

# stale_rules_gone PREFIX: the raw rules of this instance's sessions
# (tagged vpn:PREFIX-N) that no running session holds.
stale_rules_gone() {
	local tag live
	live=" $(live_leases "$STATE" | tr '\n' ' ')"
	for tag in $( { iptables-save -t raw; ip6tables-save -t raw; } 2>/dev/null |
	    grep -o "vpn:$1-[0-9]*" | sort -u); do
		[[ $live == *" ${tag##*-} "* ]] || rules_gone "$tag" raw
	done
}

# rules_gone TAG TABLE...: delete every rule tagged TAG (exactly) from the
# TABLEs, IPv4 and IPv6.
rules_gone() {
	local tag=$1 cmd table rule
	shift
	for cmd in iptables ip6tables; do
		command -v "$cmd-save" >/dev/null || continue
		for table in "$@"; do
			while read -r rule; do
				# shellcheck disable=SC2086 # the rule's words, as saved
				run "$cmd" -w -t "$table" $rule || true
			done < <("$cmd-save" -t "$table" 2>/dev/null | tagged_rules "$tag" || true)
		done
	done
}

# tagged_rules TAG: of iptables-save's lines on stdin, the rules tagged
# TAG, as the arguments that delete them.
tagged_rules() {
	awk -v tag="$1" '$1 == "-A" {
		for (i = 2; i < NF; i++) {
			c = $(i + 1)
			gsub(/"/, "", c)
			if ($i == "--comment" && c == tag) {
				$1 = "-D"
				gsub(/"/, "")
				print
				next
			}
		}
	}'
}
