#!/bin/bash
# session.sh - one session of a tunnel the scripts run, on its standard
# input and output:
#
#   session.sh serve STATE [NAME]   a client of server.sh (socat runs it for
#                                   each connection; sshd, as a forced
#                                   command, with the client's NAME)
#   session.sh pull STATE           client.sh's UDP session with a server
#                                   that pushes the configuration (-M)
#
# STATE is the instance's directory under VPN_RUNDIR, whose conf file says
# how the instance runs.  Not for use by hand.
set -eu -o pipefail
export LC_ALL=C
trap '' PIPE			# a log reader gone must not cut a teardown short

HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
# shellcheck source=scripts/common.sh
. "$HERE/common.sh"
# shellcheck source=scripts/pool.sh
. "$HERE/pool.sh"

PROGRAM=session.sh
PUSH_SECS=1			# UDP: wait this long for the other's answer,
PUSH_TRIES=5			# and ask this many times
LINE_MAX=1024			# bytes a configuration line may have
HELLO_SIZE=1200			# UDP: a hello is padded to this (as QUIC's first
				# datagram), so no answer is bigger than it
SLOT='' PEER='' SAID=0		# SAID: the client was told something
NONCE=''			# UDP: the client's hello's, once one came
COOKIE=''			# UDP: ours, in the answer; the ack must echo it
GREET_SECS=1			# stream: a client's greeting comes by then
WHOLE=0				# its vpn takes super-packets whole: both send
				# them so (vpn -W)

usage() { echo "usage: $PROGRAM serve|pull STATE [NAME]"; }

# peer_name: who is on the other end, as the transport says.
peer_name() {
	if [[ -n ${SOCAT_PEERADDR:-} ]]; then
		PEER=$(bracket "$SOCAT_PEERADDR"):${SOCAT_PEERPORT:-}
	elif [[ -n ${SSH_CONNECTION:-} ]]; then
		read -r a p _ <<<"$SSH_CONNECTION"
		PEER=$(bracket "$a"):$p
	else
		PEER=unknown
	fi
}

# name_check: the client's NAME, if it has one, is a plain name (NAME_RE);
# if not, it is refused, and never reaches a lease, a log or -A.  socat
# joins a certificate's several common names with " // ".
name_check() {
	if [[ -z $NAME || $NAME =~ $NAME_RE ]]; then
		[[ -z $NAME ]] || PEER+=" ($NAME)"
		return 0
	fi
	if [[ -n ${SOCAT_OPENSSL_X509_COMMONNAME:-} && $NAME == *" // "* ]]; then
		refuse "its certificate has more than one common name (or one with ' // '): $(printf '%q' "$NAME")"
	fi
	refuse "its name is not a plain name (letters, digits, ._@-; 64 at most): $(printf '%q' "$NAME")"
}

# -- the server's side

# lease [offer]: a free slot for this client, under STATE/lock: NAME's
# own, if -A gave it one (a session of NAME still up is ended: NAME is
# back), else the first that no one holds and -A keeps for no one.
# Refused, with a line, when MAX sessions are up.  With "offer" (a UDP
# hello, not acked yet), the slot is only picked and offered, holding
# nothing: a hello costs one spoofed datagram, and a slot held a few
# seconds for each let a few hellos a second refuse everyone.  A slot
# offered to a hello still waiting for its ack is offered again only when
# no other is free; then the first ack takes it, and lease (again, with
# SLOT set: the ack's) refuses the other.
lease() {
	local lock live offered n reserved=' ' name a _ file
	exec {lock}>"$STATE/lock"
	flock "$lock"
	if [[ -e $STATE/stopping ]]; then
		exec {lock}>&-
		refuse "the server is stopping"
	fi
	live=" $(live_leases "$STATE" | tr '\n' ' ')"
	if [[ -n $SLOT ]]; then		# the slot offered, acked
		if [[ $live == *" $SLOT "* ]]; then
			exec {lock}>&-
			refuse "its address was taken meanwhile by another client's"
		fi
	elif [[ -n $IDENTITIES ]]; then
		while read -r name a _; do
			[[ -n $name && $name != \#* ]] || continue
			n=$(ident_slot_of "$a")
			reserved+="$n "
			[[ $name != "$NAME" ]] || SLOT=$n
		done <"$IDENTITIES"
	fi
	if [[ -n $SLOT && ${1:-} != offer && $live == *" $SLOT "* ]]; then
		say "$PEER: ends its own older session $SLOT (pid $(lease_key "$STATE/sessions/$SLOT" pid))"
		lease_stop "$STATE/sessions/$SLOT"
		for ((n = 0; n < 100; n++)); do
			live=" $(live_leases "$STATE" | tr '\n' ' ')"
			[[ $live == *" $SLOT "* ]] || break
			sleep 0.1
		done
	fi
	if (($(wc -w <<<"$live") >= MAX)); then
		exec {lock}>&-
		refuse "all $MAX sessions are up"
	fi
	if [[ -n $SLOT ]] && foreign "$SLOT"; then
		exec {lock}>&-
		refuse "its device $IFACE-$SLOT is taken by a device not the server's"
	fi
	offered=" $(live_offers | tr '\n' ' ')"
	[[ -n $SLOT ]] || SLOT=$(slot_free "$live$reserved$offered") ||
		SLOT=$(slot_free "$live$reserved") || true
	[[ -n $SLOT ]] || { exec {lock}>&-; refuse "no address is free"; }
	if [[ ${1:-} == offer ]]; then
		mkdir -p "$STATE/offers"
		file=$STATE/offers/$$
		undo_call rm -f "$file"		# quietly: one a hello
		printf 'pid=%s\nstart=%s\nslot=%s\n' "$$" "$(proc_start "$$")" "$SLOT" >"$file"
		exec {lock}>&-
		return
	fi
	file=$STATE/sessions/$SLOT
	# What a session of this slot that died without its clean-up left
	# (not the last command of a list: set -e holds inside it).
	if [[ -e $file ]]; then
		purge_lease "$STATE" "$file"
	fi
	undo rm -f "$file"
	printf 'pid=%s\nstart=%s\nname=%s\npeer=%s\ndev=%s\naddr=%s\nsince=%s\n' \
	    "$$" "$(proc_start "$$")" "$NAME" "${PEER%% (*}" "$IFACE-$SLOT" \
	    "$(slot_addrs "$SLOT")" "$(date +%s)" >"$file"
	rm -f "$STATE/offers/$$"	# taken: no longer only offered
	exec {lock}>&-
}

# slot_free TAKEN: the first slot not in TAKEN (" N N ... "), and whose
# device is no other's (skipped, said); 1 if there is none.
slot_free() {
	local n
	for ((n = 1; n <= MAX; n++)); do
		[[ $1 == *" $n "* ]] && continue
		if foreign "$n"; then
			say_seldom "skipped $n" "$PEER: slot $n skipped: $IFACE-$n is a device not the server's"
			continue
		fi
		echo "$n"
		return 0
	done
	return 1
}

# live_offers: the slots offered to UDP hellos whose session still waits
# for the ack.
live_offers() {
	local f
	for f in "$STATE"/offers/*; do
		[[ -f $f ]] || continue
		if lease_live "$f"; then
			lease_key "$f" slot || true	# gone meanwhile: none
		else
			rm -f "$f" 2>/dev/null || true	# of an exchange killed
		fi
	done
	return 0
}

# foreign N: the device of slot N exists, and no lease says it is ours
# (one of a session that died without its clean-up): another's, which
# the server must neither use nor delete.
foreign() {
	[[ -n $(ifindex "$IFACE-$1") ]] || return 1
	[[ $(lease_key "$STATE/sessions/$1" ifindex) != "$(ifindex "$IFACE-$1")" ]]
}

# refuse WHY [KEY]: tell the client why it gets no session
# (docs/protocol.md), and say it here, once a minute for each WHY, or for
# each KEY if WHY holds what the client chose (a full server refuses
# whoever comes, as often as they like); then end.
refuse() {
	echo "vpn-refused 1 $1"
	SAID=1
	say_seldom "refused ${2:-$1}" "$PEER: refused: $1"
	exit 1
}

# say_seldom KEY LINE: say LINE, unless a line of KEY was said less than a
# minute ago (STATE/said-*'s time), then with what follows it for a minute
# left unsaid.  For what anyone may cause as often as they like: one line
# each would let them fill the log.  A session that may not write STATE
# (a TLS server's without -M, run as -u's user) says each.
say_seldom() {
	local stamp
	stamp=$STATE/said-$(cksum <<<"$1" | cut -d ' ' -f 1)
	if [[ -e $stamp && -z $(find "$stamp" -mmin +1 2>/dev/null) ]]; then
		return 0
	fi
	if touch "$stamp" 2>/dev/null; then
		say "$2 (the same for a minute unsaid)"
	else
		say "$2"
	fi
}

# slot_addrs N: the client's addresses of session N.
slot_addrs() {
	local p a=()
	for p in "${ADDRS[@]}"; do
		a+=("$(slot_addr "$p" "$1")/${p#*/}")
	done
	echo "${a[*]}"
}

# session_device: IFACE-SLOT, the server's address on it, the client's as
# its peer, and only the client's addresses let in from it.
session_device() {
	local dev=$IFACE-$SLOT p owner=() addr
	[[ -z $RUN_USER ]] || owner=(user "$RUN_USER")
	TAG=vpn:$dev
	# The lease records the device's index: the device is ours, and
	# dev_gone deletes it, and no other of that name.  One command (a
	# subshell, which a SIGTERM to us does not stop), so that our trap,
	# which runs only after it, never comes between the two; its undo
	# first.
	undo_call dev_gone "$dev" "$STATE/sessions/$SLOT"
	(
		run ip tuntap add dev "$dev" mode tun "${owner[@]}"
		printf 'ifindex=%s\n' "$(ifindex "$dev")" >>"$STATE/sessions/$SLOT"
	)
	[[ -z $MTU ]] || run ip link set dev "$dev" mtu "$MTU"
	for p in "${ADDRS[@]}"; do
		addr=$(slot_addr "$p" "$SLOT")
		addr_add "$dev" "${p%/*}" "$addr"
		if [[ $p == *:* ]]; then
			ipt ip6tables raw PREROUTING -i "$dev" ! -s "$addr" -j DROP
		else
			ipt iptables raw PREROUTING -i "$dev" ! -s "$addr" -j DROP
		fi
	done
	rp_filter "$dev"
	# An IPv4 pool: no IPv6 on the device, not even link-local, which a
	# client could reach unfiltered (the raw rules above are per family).
	[[ ${ADDRS[*]} == *:* ]] || no_ipv6 "$dev"
	run ip link set dev "$dev" up
	for p in "${ADDRS[@]}"; do	# IPv6 routes a peer only on some kernels
		[[ $p != *:* ]] || run ip -6 route replace "$(slot_addr "$p" "$SLOT")/128" dev "$dev"
	done
}

# config_line: what the client is told: its addresses in the pool's
# prefixes, the server's, the MTU and the routes (docs/protocol.md).
config_line() {
	local p line="$MAGIC 1" r
	for p in "${ADDRS[@]}"; do
		line+=" addr=$(slot_addr "$p" "$SLOT")/${p#*/} peer=${p%/*}"
	done
	line+=" mtu=${MTU:-1500}"
	for r in "${ROUTES[@]}"; do
		line+=" route=$r"
	done
	((WHOLE == 0)) || line+=" whole=1"
	[[ -z $NONCE ]] || line+=" nonce=$NONCE"
	[[ -z $COOKIE ]] || line+=" cookie=$COOKIE"
	echo "$line"
}

# greeting: on a stream, a client.sh's first bytes, sent as soon as it is
# connected, are one keepalive (docs/protocol.md): its vpn, as any, takes
# TCP super-packets whole, and both vpns then send them whole (WHOLE),
# sparing each end the cutting and joining of every 64 KiB.  A client that
# sends nothing within GREET_SECS (an older client.sh, another program
# waiting for the line) gets packets of the MTU, as ever, its stream
# untouched: nothing is read until something is there, so that a greeting
# late (then a keepalive to vpn) is never cut in two.  One that sends
# anything else has started without its configuration, and is refused;
# one that closed the connection (or shut it for writing: vpn would end
# at once on that EOF) is gone, and gets nothing.  At most two
# bytes are read, one at a time: nothing of what follows is taken.
greeting() {
	local got
	readable 0 "$GREET_SECS" || return 0
	got=$(timeout "$GREET_SECS" dd bs=1 count=2 status=none 2>/dev/null |
	    od -An -tx1 | tr -d ' \n') || true
	case $got in
	0000)	WHOLE=1 ;;
	'')	SAID=1			# no one to tell
		say_seldom closed "$PEER: closed the connection before its configuration"
		exit 0 ;;
	*)	refuse "it sent bytes before its configuration (hex $got), not a keepalive" greeting ;;
	esac
}

# datagram: one datagram from stdin, at most LINE_MAX bytes of it, within
# SECS; nothing if none came.
datagram() {
	timeout "$1" dd bs=65536 count=1 status=none 2>/dev/null | head -c "$LINE_MAX" |
	    tr -d '\0' || true
}

# dgram SECS: the next datagram, whole, within SECS, into DGRAM (its NULs
# as blanks, so that its length is its size); 1 if none came.
dgram() {
	DGRAM=$(timeout "$1" dd bs=65536 count=1 status=none 2>/dev/null | tr '\0' ' ') || true
	[[ -n $DGRAM ]]
}

# is_hello [NONCE]: DGRAM is a client's hello (docs/protocol.md), with
# NONCE if given: at least HELLO_SIZE bytes, its first line "vpn-hello 1
# NONCE"; the nonce into HELLO.
is_hello() {
	((${#DGRAM} >= HELLO_SIZE)) || return 1
	[[ ${DGRAM%%$'\n'*} =~ ^vpn-hello\ 1\ ([0-9a-f]{16,64})$ ]] || return 1
	HELLO=${BASH_REMATCH[1]}
	[[ -z ${1:-} || $HELLO == "$1" ]]
}

# hello_wait: on UDP, the client's hello (socat started this session for
# the first datagram of its address and port), and its nonce.  Anything
# else (a short hello, a stray datagram) ends the session at once,
# unanswered: an answer to a datagram that cannot have come from a client
# would make the server a reflector, and a wait would hold a session.
hello_wait() {
	if ! dgram "$PUSH_SECS" || ! is_hello; then
		ignored
	fi
	NONCE=$HELLO
}

# ignored: end a session whose first datagram is no hello, saying so at
# most once a minute: each costs a sender one datagram of any size, and
# one line each was about 100 lines a second from one host.
ignored() {
	say_seldom ignored "$PEER: the first datagram is no vpn-hello of $HELLO_SIZE bytes: ignored"
	exit 1
}

# push_udp: answer the hello with the configuration, and wait for the
# client's ack, which echoes the hello's nonce and the answer's cookie: the
# nonce is the client's own, so only the cookie, which no one but the
# hello's address was sent, shows that the ack's sender got the answer
# (a host that spoofs another's address cannot ack).  A whole hello again
# with the same nonce (our answer was lost) is answered again; nothing
# else is.  At most PUSH_TRIES answers, never more than one a hello.
push_udp() {
	local i answers=1
	COOKIE=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	[[ $COOKIE =~ ^[0-9a-f]{16}$ ]] || die "$PEER: no cookie from /dev/urandom"
	config_line
	# One answer a hello: a refusal only after an ack (lease, again).
	SAID=1
	for ((i = 0; i < PUSH_TRIES; i++)); do
		dgram "$PUSH_SECS" || continue
		[[ ${DGRAM%%$'\n'*} != "vpn-ack 1 $NONCE $COOKIE" ]] || return 0
		if is_hello "$NONCE" && ((answers < PUSH_TRIES)); then
			config_line
			answers=$((answers + 1))
		fi
	done
	say_seldom "no ack" "$PEER: no ack of the configuration: no session"
	exit 1
}

# run_vpn DEV STATS [LEASE]: vpn on DEV, on our stdin and stdout, its
# counters in the file STATS, until it ends; say why.  Its PID goes into
# LEASE, if given, so that a purge of the lease can end it.
run_vpn() {
	local rc=0 pid
	vpn_args "$1" "$2"
	undo_call gone "$2"
	"${VPN_ARGS[@]}" <&0 &		# explicit: a job's stdin is /dev/null
	pid=$!
	CHILDREN=("$pid")
	[[ -z ${3:-} ]] || printf 'vpn=%s\nvpn_start=%s\n' "$pid" "$(proc_start "$pid")" >>"$3"
	wait "$pid" || rc=$?
	CHILDREN=()
	say "$PEER: session on $1 ended: $(why_ended "$rc" vpn)"
}

# serve_many: a session of its own: a slot, a device, the pushed line, vpn.
serve_many() {
	local how=''
	# Over UDP the slot is taken, and the device made, only once the
	# client has acked.
	if [[ $TRANSPORT == udp ]]; then
		hello_wait
		lease offer
		push_udp
		lease
		session_device
	else
		greeting
		lease
		session_device
		config_line
	fi
	SAID=1
	((WHOLE == 0)) || how=', super-packets whole'
	say "$PEER: session up on $IFACE-$SLOT as $(config_line | grep -o 'addr=[^ ]*' | sed 's/addr=//' | tr '\n' ' ' | sed 's/ $//')$how"
	run_vpn "$IFACE-$SLOT" "$STATE/sessions/$SLOT.stats" "$STATE/sessions/$SLOT"
}

# serve_one: a server without -M: the client gets IFACE, unless another
# has it.
serve_one() {
	local lock
	exec {lock}>"$STATE/sessions/one.lock"
	flock -n "$lock" || die "$PEER: refused: a client is connected already"
	printf 'pid=%s\nstart=%s\nname=%s\npeer=%s\ndev=%s\naddr=%s\nsince=%s\n' "$$" \
	    "$(proc_start "$$")" "$NAME" "${PEER%% (*}" "$IFACE" "${ADDRS[*]}" \
	    "$(date +%s)" >"$STATE/sessions/one"
	undo_call gone "$STATE/sessions/one"
	say "$PEER: session up on $IFACE"
	run_vpn "$IFACE" "$STATE/sessions/one.stats"
}

# serve_exit: a session that could not be set up tells the client so,
# which then tries again later; then undo what was done.
serve_exit() {
	local rc=$?
	# Over UDP, only a client whose hello came is answered.
	if ((rc != 0 && MAX > 0 && !SAID)) && [[ $TRANSPORT != udp || -n $NONCE ]]; then
		echo "vpn-refused 1 the server could not set up a session"
		say "$PEER: could not set up a session (exit $rc)"
	fi
	cleanup
}

serve() {
	STATE=$1 NAME=${2:-}
	[[ -r $STATE/conf ]] || { echo "$PROGRAM: $STATE: no server runs there" >&2; exit 1; }
	# shellcheck disable=SC1091 # the instance's own configuration
	. "$STATE/conf"
	# Under sshd, stderr is the client's: the server's log is STATE/log.
	[[ -z ${SSH_CONNECTION:-} ]] || exec 2>>"$STATE/log"
	NAME=${NAME:-${SOCAT_OPENSSL_X509_COMMONNAME:-}}
	peer_name
	traps
	trap serve_exit EXIT
	name_check
	if ((MAX > 0)); then
		serve_many
	else
		serve_one
	fi
}

# -- the client's side

# pull: on UDP, ask the server for the configuration, apply it, say we
# have it, and become vpn.
pull() {
	local i line='' nonce cookie='' w words
	STATE=$1
	# shellcheck disable=SC1091 # the instance's own configuration
	. "$STATE/conf"
	nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	for ((i = 0; i < PUSH_TRIES; i++)); do
		# One write, one datagram: the line, then NULs to HELLO_SIZE.
		{ echo "vpn-hello 1 $nonce"; head -c "$HELLO_SIZE" /dev/zero; } |
		    head -c "$HELLO_SIZE" | dd bs="$HELLO_SIZE" count=1 iflag=fullblock status=none
		line=$(datagram "$PUSH_SECS")
		# A configuration for another hello (a stale or forged one) is not ours.
		[[ $line == "$MAGIC "* && " $line " != *" nonce=$nonce "* ]] && line=''
		[[ -z $line ]] || break
	done
	[[ -n $line ]] || die "no configuration from the server after $PUSH_TRIES tries"
	if [[ $line == "vpn-refused 1 "* ]]; then
		say "refused by the server: ${line#vpn-refused 1 }"
		exit 3
	fi
	[[ $line == "$MAGIC "* ]] || die "the server sent no configuration: '${line:0:40}'"
	apply_config "$line" || exit 4
	read -ra words <<<"$line"
	for w in "${words[@]}"; do	# the server's cookie (none: an older server)
		[[ ! $w =~ ^cookie=([0-9a-f]{16,64})$ ]] || cookie=" ${BASH_REMATCH[1]}"
	done
	echo "vpn-ack 1 $nonce$cookie"
	# shellcheck disable=SC2153 # SERVER is the conf's
	session_file "$(bracket "$SERVER"):$PORT" "${PUSHED[@]}"
	say "connected to $SERVER port $PORT (udp): session up on $IFACE"
	vpn_args "$IFACE" "$STATE/sessions/one.stats"
	exec "${VPN_ARGS[@]}"
}

main() {
	case ${1:-} in
	serve)	(($# == 2 || $# == 3)) || { usage >&2; exit 2; }
		serve "$2" "${3:-}" ;;
	pull)	(($# == 2)) || { usage >&2; exit 2; }
		pull "$2" ;;
	*)	usage >&2
		exit 2 ;;
	esac
}

main "$@"
