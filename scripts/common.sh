# shellcheck shell=bash disable=SC2034 # some variables are the sourcer's
# scripts/common.sh - what server.sh and client.sh share: the undo stack,
# preflight, the device, firewall rules, and one tunnel session.
#
# Sourced, never run.  The sourcing script sets PROGRAM, IFACE, ADDRS,
# ROUTES, PORT, TRANSPORT, KEEPALIVE, TIMEOUT, MTU, then calls these.

VPN=${VPN:-}
UNDO=() CHILDREN=() DIR='' TAG=''
HOLDS=()			# descriptors holding the session FIFOs open
LISTENING=0			# the transport has said it listens

run() { printf '[#] %s\n' "$*" >&2; "$@"; }
say() { printf '%s: %s\n' "$PROGRAM" "$*" >&2; }
die() { say "$*"; exit 1; }

# undo CMD...: remember how to reverse the step just taken.
undo() { UNDO+=("run $(printf '%q ' "$@")"); }

# undo_call FUNCTION ARGS...: the same, for a function that says what it does.
undo_call() { UNDO+=("$(printf '%q ' "$@")"); }

# stop_children: SIGTERM to each child still running, and wait for it.
stop_children() {
	local pid
	for pid in "${CHILDREN[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${CHILDREN[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	CHILDREN=()
}

cleanup() {
	local i
	trap - EXIT INT TERM
	set +e
	stop_children
	holds_close
	for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
		eval "${UNDO[i]}"
	done
}

# traps: from here on, any exit tears down what was set up.  Children
# started with & ignore SIGINT, so the script stops them itself.
traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# -- checks before any change

# find_vpn: $VPN if set, else the vpn built beside scripts/, else PATH's.
find_vpn() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [[ -z $VPN && -x $here/vpn ]]; then
		VPN=$here/vpn
	elif [[ -z $VPN ]]; then
		VPN=$(command -v vpn || true)
	fi
}

# preflight CMD...: every command there, root, a vpn that runs; all that is
# missing said in one line.
preflight() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	if [[ " $* " == *" nc "* ]] && command -v nc >/dev/null &&
	    ! nc -h 2>&1 | grep -q OpenBSD; then
		missing+=("OpenBSD nc (netcat-openbsd)")
	fi
	find_vpn
	if [[ -z $VPN ]]; then
		missing+=("vpn (run make, or set VPN=/path/to/vpn)")
	elif [[ ! -x $VPN ]]; then
		missing+=("vpn ($VPN is not executable)")
	fi
	[[ $EUID -eq 0 ]] || missing+=("root")
	if ((${#missing[@]} > 0)); then
		printf -v c '%s, ' "${missing[@]}"
		die "missing: ${c%, }"
	fi
}

# free_device: the device must not exist yet; it may be another instance's.
free_device() {
	! ip link show dev "$IFACE" >/dev/null 2>&1 ||
		die "$IFACE: device exists (another vpn? choose one with -i)"
}

# free_port PROTO: nothing listens on PORT (TCP) or holds it (UDP).
free_port() {
	local out
	if [[ $1 == udp ]]; then
		out=$(ss -Hanu "sport = :$PORT")
	else
		out=$(ss -Hlnt "sport = :$PORT")
	fi
	[[ -z $out ]] || die "port $PORT/$1 is in use (choose another with -p)"
}

# -- arguments

# num NAME VALUE MIN MAX: VALUE is a whole number in range, or usage error.
num() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
		usage_error "$1: not a number from $3 to $4: '$2'"
	fi
}

# cidr NAME VALUE: an IPv4 or IPv6 address with a prefix length.
cidr() {
	[[ $2 =~ ^[0-9a-fA-F.:]+/[0-9]{1,3}$ && $2 == *[.:]* ]] ||
		usage_error "$1: not ADDRESS/PREFIX: '$2'"
}

usage_error() {
	say "$1"
	usage | sed '/^$/q' >&2		# the synopsis only
	exit 2
}

uses_ipv6() {
	local a
	for a in "${ADDRS[@]}" "${ROUTES[@]}"; do
		[[ $a != *:* ]] || return 0
	done
	return 1
}

# -- set-up steps, each pushing its undo

setup_device() {
	local a owner=()
	[[ -z ${DEVICE_USER:-} ]] || owner=(user "$DEVICE_USER")
	run ip tuntap add dev "$IFACE" mode tun "${owner[@]}"
	undo ip link del dev "$IFACE"
	[[ -z $MTU ]] || run ip link set dev "$IFACE" mtu "$MTU"
	for a in "${ADDRS[@]}"; do
		if [[ $a == *:* ]]; then
			run ip -6 addr add "$a" dev "$IFACE" nodad
		else
			run ip addr add "$a" dev "$IFACE"
		fi
	done
	run ip link set dev "$IFACE" up
}

setup_routes() {
	local r
	for r in "${ROUTES[@]}"; do
		run ip route add "$r" dev "$IFACE"
		undo ip route del "$r" dev "$IFACE"
	done
}

# others: tags of other vpn instances' rules in this network namespace.
others() {
	iptables -w -t mangle -S FORWARD 2>/dev/null |
	    grep -o -- '--comment "\?vpn:[^ "]*' | sed 's/.*vpn:/vpn:/' |
	    grep -vx -- "$TAG" | sort -u | tr '\n' ' '
}

# forwarding KEY: turn the sysctl on; on exit, put back what it was, unless
# another instance still relies on it.
forwarding() {
	local old
	old=$(sysctl -n "$1")
	[[ $old != 1 ]] || return 0
	run sysctl -qw "$1=1"
	undo_call restore_sysctl "$1" "$old"
}

restore_sysctl() {
	local busy
	busy=$(others)
	if [[ -n $busy ]]; then
		say "leaving $1=1 (it was $2): ${busy% } still forwarding"
		return 0
	fi
	run sysctl -qw "$1=$2"
}

# ipt CMD TABLE CHAIN RULE...: add a rule tagged with this instance, once.
ipt() {
	local cmd=$1 table=$2 chain=$3
	shift 3
	set -- "$@" -m comment --comment "$TAG"
	"$cmd" -w -t "$table" -C "$chain" "$@" 2>/dev/null ||
		run "$cmd" -w -t "$table" -A "$chain" "$@"
	undo "$cmd" -w -t "$table" -D "$chain" "$@"
}

# setup_forwarding: forward between the tunnel and the LAN, and clamp the
# MSS of SYNs leaving through the tunnel to its MTU, so that hosts behind
# the gateways never send segments too big for it.
setup_forwarding() {
	# shellcheck disable=SC2054 # SYN,RST is one argument
	local clamp=(-o "$IFACE" -p tcp --tcp-flags SYN,RST SYN
	    -j TCPMSS --clamp-mss-to-pmtu)
	forwarding net.ipv4.ip_forward
	ipt iptables mangle FORWARD "${clamp[@]}"
	forward_policy iptables
	if uses_ipv6; then
		forwarding net.ipv6.conf.all.forwarding
		if command -v ip6tables >/dev/null; then
			ipt ip6tables mangle FORWARD "${clamp[@]}"
			forward_policy ip6tables
		fi
	fi
}

# forward_policy CMD: a FORWARD chain that drops by default (Docker makes it
# so) drops the tunnel's forwarded traffic too.  Say so, and what would let
# it through; opening the admin's firewall is not ours to do.
forward_policy() {
	local policy
	policy=$("$1" -w -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')
	[[ -n $policy && $policy != ACCEPT ]] || return 0
	say "$1: the FORWARD chain's policy is $policy: nothing is forwarded" \
	    "to or from $IFACE until a rule accepts it, as these would:"
	say "  $1 -I FORWARD -i $IFACE -j ACCEPT"
	say "  $1 -I FORWARD -o $IFACE -j ACCEPT"
}

# fifos: a private directory for the session FIFOs, in $TMPDIR or /tmp.
fifos() {
	DIR=$(mktemp -d -t "vpn-$IFACE.XXXXXX")
	undo rm -rf "$DIR"
	mkfifo "$DIR/up" "$DIR/down" "$DIR/err"
}

holds_close() {
	local fd
	for fd in "${HOLDS[@]}"; do
		exec {fd}<&-
	done
	HOLDS=()
}

# -- one session

# vpn_args: the vpn command line of a session, into the array VPN_ARGS.
# -k 0 and -t 0 leave the timer off.
vpn_args() {
	VPN_ARGS=("$VPN" -i "$IFACE")
	((KEEPALIVE == 0)) || VPN_ARGS+=(-k "$KEEPALIVE")
	((TIMEOUT == 0)) || VPN_ARGS+=(-t "$TIMEOUT")
}

# session GATE TRANSPORT...: one tunnel session.  vpn and the transport
# (nc, socat or ssh, on its stdin and stdout) run as two children joined by
# two FIFOs, as in the article's pipeline; the session ends when either one
# does, and the other is then stopped.  If GATE is not empty, vpn starts
# only when the transport's stderr says it (a peer has come), so that -t
# counts the peer's silence, not the wait for one.  Returns vpn's status,
# or 3 if the transport ended before vpn began.
session() {
	local gate=$1 t v rc=0 who up down err='' line
	shift
	# Held open by us, these FIFOs never block an open() nor end early.
	exec {up}<>"$DIR/up" {down}<>"$DIR/down"
	HOLDS=("$up" "$down")
	if [[ -z $gate ]]; then
		"$@" <"$DIR/up" >"$DIR/down" {up}<&- {down}<&- &
		t=$!
		CHILDREN=("$t")
	else
		# stderr first: until we open it, the child waits there.
		"$@" 2>"$DIR/err" <"$DIR/up" >"$DIR/down" {up}<&- {down}<&- &
		t=$!
		CHILDREN=("$t")
		exec {err}<"$DIR/err"
		HOLDS+=("$err")
		# No read -t here: a trap's exit during it leaves bash's alarm
		# armed, and bash 5.2 then aborts in the cleanup.
		while :; do
			if ! read -r -u "$err" line; then
				wait "$t" || true	# EOF: it ended
				CHILDREN=()
				holds_close
				return 3
			fi
			transport_said "$line"
			[[ $line != *"$gate"* ]] || break
		done
	fi
	vpn_args
	"${VPN_ARGS[@]}" <"$DIR/down" >"$DIR/up" {up}<&- {down}<&- &
	v=$!
	CHILDREN+=("$v")
	wait -n -p who "$t" "$v" || true
	if [[ $who == "$v" ]]; then
		wait "$v" || rc=$?
		kill "$t" 2>/dev/null || true
		wait "$t" || true
	else
		kill "$v" 2>/dev/null || true
		wait "$v" || rc=$?
	fi
	CHILDREN=()
	if [[ -n $err ]]; then		# what it said after the gate; EOF now
		while read -r -u "$err" line; do
			transport_said "$line"
		done
	fi
	holds_close
	return "$rc"
}

# transport_said LINE: pass on what the transport said: nc's lines, and
# socat's errors, warnings and the notices that say who came.
transport_said() {
	case $1 in
	*" socat["*"] N "*"listening on"*)
		LISTENING=1
		say "socat:${1#*] N}" ;;
	*" socat["*"] N accepting"*)
		say "socat:${1#*] N}" ;;
	*" socat["*"] N "*) ;;
	"Listening on "*)
		LISTENING=1
		say "nc: $1" ;;
	"Connection received on "*)
		say "nc: $1" ;;
	*) printf '%s\n' "$1" >&2 ;;
	esac
}

# dgram_session SOCAT_ADDRESS: vpn as socat's own process on a UDP socket
# (EXEC nofork): vpn sees a datagram socket and keeps packets whole.
dgram_session() {
	local rc=0
	vpn_args
	socat "$1" EXEC:"${VPN_ARGS[*]}",nofork &
	CHILDREN=("$!")
	wait "$!" || rc=$?
	CHILDREN=()
	return "$rc"
}

# tls_opts: socat's certificate options.
tls_opts() {
	echo "cert=$CERT,key=$KEY,cafile=$CAFILE,verify=1"
}

# bracket HOST: an IPv6 literal in brackets, for socat's HOST:PORT.
bracket() {
	if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi
}
