# shellcheck shell=bash disable=SC2034 # some variables are the sourcer's
# scripts/common.sh - what server.sh, client.sh and session.sh share: the
# undo stack, the options, the checks before any change, the device,
# forwarding and firewall rules, and one tunnel session.
#
# Sourced, never run.  The sourcing script sets PROGRAM and its defaults,
# OPTSTRING (its own getopts letters), and defines its own_opt and usage.

VPN=${VPN:-}
RUNDIR=${VPN_RUNDIR:-/run/vpn}	# state of the running tunnels (vpn-status)
UNDO=() CHILDREN=() DIR='' TAG=''
HOLDS=()			# descriptors holding the session FIFOs open
LISTENING=0			# the transport has said it listens
RUN_USER=''			# -u: the user vpn and the transport run as
MAGIC=vpn-config		# the first word of the pushed configuration
STOP_TRIES=20			# vpn_stop: looks at a fork this many times,
STOP_PAUSE=0.05			# this long apart (s), for it to become vpn

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

# cleanup: undo everything, in reverse, once.  A second Ctrl-C or SIGTERM
# during it is ignored: a teardown cut short would leave the device, the
# rules or a sysctl behind.
cleanup() {
	local i
	trap '' INT TERM
	trap - EXIT
	set +e
	stop_children
	holds_close
	for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
		eval "${UNDO[i]}"
	done
	UNDO=()
}

# traps: from here on, any exit tears down what was set up.  Children
# started with & ignore SIGINT, so the script stops them itself.
traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# -- options, shared by server.sh and client.sh

# num NAME VALUE MIN MAX: VALUE is a whole number in range, or usage error.
num() {
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
		usage_error "$1: not a number from $3 to $4: '$2'"
	fi
}

# valid_cidr VALUE: an IPv4 or IPv6 address with a prefix length?
valid_cidr() {
	if [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]]; then
		((BASH_REMATCH[1] < 256 && BASH_REMATCH[2] < 256 &&
		    BASH_REMATCH[3] < 256 && BASH_REMATCH[4] < 256 &&
		    BASH_REMATCH[5] <= 32))
	elif [[ $1 =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:.]*/([0-9]{1,3})$ ]]; then
		((BASH_REMATCH[1] <= 128))
	else
		return 1
	fi
}

# cidr NAME VALUE: an IPv4 or IPv6 address with a prefix length.
cidr() {
	valid_cidr "$2" || usage_error "$1: not ADDRESS/PREFIX: '$2'"
}

# plain NAME VALUE: VALUE goes into a socat address or command line, where
# a comma, a colon, "!!", quotes or blanks would mean more than a name.
plain() {
	[[ $2 =~ ^[A-Za-z0-9_./+@%=-]+$ ]] ||
		usage_error "$1: only letters, digits and _./+@%=- here: '$2'"
}

usage_error() {
	say "$1"
	usage | sed '/^$/q' >&2		# the synopsis only
	exit 2
}

# common_opt LETTER ARG: an option both scripts take; 1 if it is not one.
common_opt() {
	case $1 in
	C)	plain -C "$2"; CAFILE=$2 ;;
	c)	plain -c "$2"; CERT=$2 ;;
	h)	usage; exit 0 ;;
	i)	IFACE=$2 ;;
	K)	plain -K "$2"; KEY=$2 ;;
	k)	num -k "$2" 0 86400; KEEPALIVE=$2 ;;
	l)	cidr -l "$2"; ADDRS+=("$2") ;;
	m)	num -m "$2" 68 65535; MTU=$2 ;;
	p)	num -p "$2" 1 65535; PORT=$2 PORT_SET=1 ;;
	r)	cidr -r "$2"; ROUTES+=("$2") ;;
	T)	TRANSPORT=$2 ;;
	t)	num -t "$2" 0 86400; TIMEOUT=$2 ;;
	u)	RUN_USER=$2 ;;
	*)	return 1 ;;
	esac
}

# conf_args FILE: the options in FILE, one a line as on the command line
# ("-r 172.16.1.0/24"; "#" starts a comment), into the array CONF_ARGS.
conf_args() {
	local line opt arg n=0
	CONF_ARGS=()
	[[ -r $1 ]] || usage_error "-f: cannot read '$1'"
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%%#*}
		read -r opt arg <<<"$line" || true
		[[ -n $opt ]] || continue
		[[ $opt =~ ^-[A-Za-z0-9]$ && $opt != -f ]] ||
			usage_error "$1:$n: not an option: '$opt'"
		CONF_ARGS+=("$opt")
		[[ -z $arg ]] || CONF_ARGS+=("$arg")
	done <"$1"
}

# parse_args ARGS...: -f FILE's options first, then the command line's,
# through common_opt and the script's own_opt; then the checks both share.
parse_args() {
	local o args=("$@") i
	for ((i = 0; i < ${#args[@]}; i++)); do	# -f FILE, wherever it is
		if [[ ${args[i]} == -f ]]; then
			((i + 1 < ${#args[@]})) || usage_error "-f needs an argument"
			conf_args "${args[i + 1]}"
			args=("${CONF_ARGS[@]}" "${args[@]:0:i}" "${args[@]:i+2}")
			break
		fi
	done
	set -- "${args[@]}"
	while getopts ":$OPTSTRING" o; do
		case $o in
		:)	usage_error "-$OPTARG needs an argument" ;;
		\?)	usage_error "-$OPTARG: unknown option" ;;
		esac
		common_opt "$o" "${OPTARG:-}" || own_opt "$o" "${OPTARG:-}"
	done
	shift $((OPTIND - 1))
	(($# == 0)) || usage_error "unexpected argument: '$1'"
	[[ $IFACE =~ ^[A-Za-z0-9_.-]{1,15}$ ]] ||
		usage_error "-i: not a device name: '$IFACE'"
	case $TRANSPORT in
	nc|udp|ssh) ;;
	tls)	[[ -n $CERT && -n $KEY && -n $CAFILE ]] ||
			usage_error "-T tls needs -c cert, -K key and -C cafile" ;;
	*)	usage_error "-T: not nc, tls, udp or ssh: '$TRANSPORT'" ;;
	esac
	if [[ $TRANSPORT != tls && -n $CERT$KEY$CAFILE ]]; then
		usage_error "-c, -K and -C need -T tls"
	fi
	MTU_GIVEN=$MTU
	[[ -n $MTU || $TRANSPORT != udp ]] || MTU=1400
	[[ $RUNDIR =~ ^/[A-Za-z0-9_./+@%=-]+$ ]] ||
		usage_error "VPN_RUNDIR: not a plain absolute path: '$RUNDIR'"
	TAG=vpn:$IFACE
}

# -- checks before any change

# find_vpn: $VPN if set, else the vpn beside scripts/ in a built tree, else
# the one installed with these scripts (PREFIX/lib/vpn/../../bin), else
# PATH's.
find_vpn() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [[ -n $VPN ]]; then
		return
	elif [[ -f $here/../vpn && -x $here/../vpn ]]; then	# not lib/vpn/
		VPN=$(cd "$here/.." && pwd)/vpn
	elif [[ -x $here/../../bin/vpn ]]; then
		VPN=$(cd "$here/../../bin" && pwd)/vpn
	else
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
	find_vpn
	if [[ -z $VPN ]]; then
		missing+=("vpn (run make, or set VPN=/path/to/vpn)")
	elif [[ ! -x $VPN ]]; then
		missing+=("vpn ($VPN is not executable)")
	elif [[ $VPN =~ [^A-Za-z0-9_./+@%=-] ]]; then
		missing+=("vpn at a path without blanks or ,:!\"' ($VPN)")
	fi
	[[ $EUID -eq 0 ]] || missing+=("root")
	if ((${#missing[@]} > 0)); then
		printf -v c '%s, ' "${missing[@]}"
		die "missing: ${c%, }"
	fi
}

# nc_flavour FAMILY: which netcat nc is, and how to drive it: NC_LISTEN,
# its arguments to listen on IPv4 (FAMILY 4) or IPv6 and IPv4 (6), the
# port to follow; NC_ACCEPTED and NC_CONNECTED, what its -v says when a
# peer has come.  A netcat that cannot say it is refused, naming what
# would do.
nc_flavour() {
	local help want="install netcat-openbsd or ncat"
	help=$(nc -h 2>&1 </dev/null || true)
	case $help in
	*"OpenBSD netcat"*)
		NC_LISTEN=(-lvn "-$1")
		NC_ACCEPTED="Connection received on " NC_CONNECTED=" succeeded!" ;;
	Ncat*)	# ncat -6 -l takes no IPv4; with neither flag it takes both
		NC_LISTEN=(-lvn)
		[[ $1 == 6 ]] || NC_LISTEN+=(-4)
		NC_ACCEPTED="Ncat: Connection from " NC_CONNECTED="Ncat: Connected to " ;;
	"[v1.10"*)
		[[ $1 == 4 ]] || die "nc: netcat-traditional has no IPv6; $want"
		NC_LISTEN=(-lvn -p)
		NC_ACCEPTED="connect to [" NC_CONNECTED=") open" ;;
	*BusyBox*)
		die "nc: BusyBox nc does not say when a peer connects (no -v); $want" ;;
	*)	die "nc: not OpenBSD nc, ncat or netcat-traditional; $want" ;;
	esac
}

# tls_files: the certificate, key and CA can be read, are what they say,
# the key is the certificate's, and the CA signed it (the peer checks it
# against the same CA).  Retrying cannot mend any of these: say which file.
tls_files() {
	local f out
	for f in "$CERT" "$KEY" "$CAFILE"; do
		[[ -r $f ]] || die "$f: cannot read it"
	done
	openssl x509 -in "$CAFILE" -noout 2>/dev/null ||
		die "$CAFILE (-C): not a PEM certificate"
	openssl x509 -in "$CERT" -noout 2>/dev/null ||
		die "$CERT (-c): not a PEM certificate"
	openssl pkey -in "$KEY" -noout 2>/dev/null ||
		die "$KEY (-K): not a PEM private key (or it has a passphrase)"
	[[ $(openssl x509 -in "$CERT" -noout -pubkey) == \
	    "$(openssl pkey -in "$KEY" -pubout)" ]] ||
		die "$KEY (-K): not the key of $CERT"
	out=$(openssl verify -CAfile "$CAFILE" "$CERT" 2>&1) ||
		die "$CERT (-c): not signed by $CAFILE (-C): ${out##*: }"
	[[ -z $RUN_USER ]] || ((MAX > 0)) && return	# -M: socat is root
	for f in "$CERT" "$KEY" "$CAFILE"; do	# socat reads them as -u's user
		setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" \
		    --init-groups test -r "$f" ||
			die "$f: $RUN_USER (-u) cannot read it"
	done
}

# run_user [TUN]: -u's user exists, and is not root; with TUN, it opens
# /dev/net/tun itself (it runs vpn), which needs the node's mode to let it
# (Debian's is 0666).
run_user() {
	[[ -z $RUN_USER ]] && return
	id -u "$RUN_USER" >/dev/null 2>&1 || die "-u: no such user: '$RUN_USER'"
	[[ $(id -u "$RUN_USER") != 0 ]] || die "-u: '$RUN_USER' is root"
	[[ -z ${1:-} ]] || setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" \
	    --init-groups test -r /dev/net/tun -a -w /dev/net/tun ||
		die "/dev/net/tun: $RUN_USER (-u) cannot open it (mode $(stat -c %a /dev/net/tun))"
}

# as_user CMD...: become CMD, as -u's user if there is one.  Only in a
# background job (CMD ... &), whose PID is then CMD's, to stop it by.
as_user() {
	if [[ -n $RUN_USER ]]; then
		exec setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" \
		    --init-groups --inh-caps=-all -- "$@"
	fi
	exec "$@"
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

family() { if [[ $1 == *:* ]]; then echo 6; else echo 4; fi; }

uses_ipv6() {
	local a
	for a in "${ADDRS[@]}" "${ROUTES[@]}"; do
		[[ $a != *:* ]] || return 0
	done
	return 1
}

# array_decl NAME: NAME=(...) as bash reads it back, for a conf file; an
# empty array stays empty (printf '%q ' of nothing would give '').
array_decl() {
	local -n a=$1
	if ((${#a[@]} > 0)); then
		printf '%s=(%s)\n' "$1" "$(printf '%q ' "${a[@]}")"
	else
		printf '%s=()\n' "$1"
	fi
}

# -- set-up steps, each pushing its undo

# addr_add DEV ADDR [PEER]: an address on DEV, point to point if PEER.
addr_add() {
	local peer=() six=() nodad=()
	[[ -z ${3:-} ]] || peer=(peer "$3")
	[[ $2 != *:* ]] || six=(-6) nodad=(nodad)
	run ip "${six[@]}" addr add "$2" "${peer[@]}" dev "$1" "${nodad[@]}"
}

setup_device() {
	local a owner=()
	[[ -z $RUN_USER ]] || owner=(user "$RUN_USER")
	run ip tuntap add dev "$IFACE" mode tun "${owner[@]}"
	undo ip link del dev "$IFACE"
	[[ -z $MTU ]] || run ip link set dev "$IFACE" mtu "$MTU"
	for a in "${ADDRS[@]}"; do
		addr_add "$IFACE" "$a"
	done
	rp_filter "$IFACE"
	run ip link set dev "$IFACE" up
}

# rp_filter DEV: drop what arrives on DEV from a source not routed back
# through it (strict reverse-path filtering, RFC 3704): a peer cannot send
# from another network's addresses.  The setting goes with the device.
rp_filter() {
	run sysctl -qw "net.ipv4.conf.$1.rp_filter=1"
}

# no_ipv6 DEV: DEV carries no IPv6, where the kernel has IPv6 at all.
no_ipv6() {
	[[ ! -d /proc/sys/net/ipv6/conf/$1 ]] ||
		run sysctl -qw "net/ipv6/conf/$1/disable_ipv6=1"
}

setup_routes() {
	local r
	for r in "${ROUTES[@]}"; do
		run ip route add "$r" dev "$IFACE"
		undo ip route del "$r" dev "$IFACE"
	done
}

# netns_dir: this network namespace's part of RUNDIR: what the instances
# running in it share.
netns_dir() {
	echo "$RUNDIR/net-$(stat -L -c %i /proc/self/ns/net)"
}

# locked CMD...: CMD while holding RUNDIR/lock, which orders the instances'
# changes to what they share.
locked() {
	local lock rc=0
	exec {lock}>"$RUNDIR/lock"
	flock "$lock"
	"$@" || rc=$?
	exec {lock}>&-
	return "$rc"
}

# forwarding KEY: turn the sysctl on.  The first instance to need it keeps
# the value it found; the last one to stop puts that value back, however
# the instances started and stopped in between.
forwarding() {
	local d
	d=$(netns_dir)/$1
	mkdir -p "$(dirname "$d")"
	locked forwarding_on "$1" "$d"
	undo_call locked restore_sysctl "$1" "$d"
}

forwarding_on() {
	if [[ ! -s $2 ]]; then
		sysctl -n "$1" >"$2"
		rm -rf "$2.users"
	fi
	mkdir -p "$2.users"
	: >"$2.users/$TAG"
	[[ $(sysctl -n "$1") == 1 ]] || run sysctl -qw "$1=1"
}

# restore_sysctl KEY FILE: this instance no longer needs KEY; the last one
# out puts back the value kept in FILE.
restore_sysctl() {
	local busy
	rm -f "$2.users/$TAG"
	busy=$(find "$2.users" -mindepth 1 -printf '%f ' 2>/dev/null || true)
	if [[ -n $busy ]]; then
		say "leaving $1=1 (it was $(cat "$2")): ${busy% } still forwarding"
		return
	fi
	[[ $(sysctl -n "$1") == "$(cat "$2")" ]] || run sysctl -qw "$1=$(cat "$2")"
	rm -rf "$2" "$2.users"
	rmdir "$(dirname "$2")" 2>/dev/null || true	# the last of this netns
}

# state_gone DIR: the instance's state is no more; nor its netns's, if it
# was the last.
state_gone() {
	rm -rf "$1"
	rmdir "$(dirname "$1")" 2>/dev/null || true
}

# ipt CMD TABLE CHAIN RULE...: add a rule tagged with this instance, once.
ipt() {
	local cmd=$1 table=$2 chain=$3
	shift 3
	set -- "$@" -m comment --comment "$TAG"
	# The undo first: a signal between the two must not leave the rule.
	undo "$cmd" -w -t "$table" -D "$chain" "$@"
	"$cmd" -w -t "$table" -C "$chain" "$@" 2>/dev/null ||
		run "$cmd" -w -t "$table" -A "$chain" "$@"
}

# setup_forwarding [DEV]: forward between the tunnel and the LAN, and clamp
# the MSS of SYNs leaving through the tunnel (DEV, a pattern like tun0-+
# for many) to its MTU, so that hosts behind the gateways never send
# segments too big for it.
setup_forwarding() {
	local dev=${1:-$IFACE}
	# shellcheck disable=SC2054 # SYN,RST is one argument
	local clamp=(-o "$dev" -p tcp --tcp-flags SYN,RST SYN
	    -j TCPMSS --clamp-mss-to-pmtu)
	forwarding net.ipv4.ip_forward
	ipt iptables mangle FORWARD "${clamp[@]}"
	forward_policy iptables "$dev"
	if uses_ipv6; then
		forwarding net.ipv6.conf.all.forwarding
		if command -v ip6tables >/dev/null; then
			ipt ip6tables mangle FORWARD "${clamp[@]}"
			forward_policy ip6tables "$dev"
		fi
	fi
}

# forward_policy CMD DEV: a FORWARD chain that drops by default (Docker
# makes it so) drops the tunnel's forwarded traffic too.  Say so, and what
# would let it through; opening the admin's firewall is not ours to do.
forward_policy() {
	local policy
	policy=$("$1" -w -S FORWARD 2>/dev/null | sed -n 's/^-P FORWARD //p')
	[[ -n $policy && $policy != ACCEPT ]] || return 0
	say "$1: the FORWARD chain's policy is $policy: nothing is forwarded" \
	    "to or from $2 until a rule accepts it, as these would:"
	say "  $1 -I FORWARD -i $2 -j ACCEPT"
	say "  $1 -I FORWARD -o $2 -j ACCEPT"
}

# fifos: a private directory for the session FIFOs, in $TMPDIR or /tmp.
# It and they stay root's (0700, 0600), also with -u: the processes that
# run as -u's user get each FIFO open from the shell, which opens the
# redirections before setpriv, and never open one by name.  Were the
# directory theirs, they could put a link where root opens a FIFO.
fifos() {
	DIR=$(mktemp -d -t "vpn-$IFACE.XXXXXX")
	undo rm -rf "$DIR"
	mkfifo -m 0600 "$DIR/up" "$DIR/down" "$DIR/err" "$DIR/log"
}

# user_file FILE: FILE made empty, -u's user's own, in a directory that
# stays root's: what a process running as that user opens by name.
user_file() {
	install -m 0644 -o "$RUN_USER" -g "$(id -g "$RUN_USER")" /dev/null "$1"
}

# gone FILE...: each FILE removed; emptied instead if its directory is not
# ours to write (a session running as -u's user).
gone() {
	local f
	for f in "$@"; do
		rm -f "$f" 2>/dev/null || : >"$f"
	done
}

holds_close() {
	local fd
	for fd in "${HOLDS[@]}"; do
		exec {fd}<&-
	done
	HOLDS=()
}

# -- one session

# session_file PEER ADDRESSES...: describe the session just up, for
# vpn-status, in STATE/sessions/one (vpn's counters go to one.stats).
session_file() {
	local who=$1
	shift
	printf 'pid=%s\npeer=%s\ndev=%s\naddr=%s\nsince=%s\n' "$$" "$who" \
	    "$IFACE" "$*" "$(date +%s)" >"$STATE/sessions/one"
}

# session_gone: the session is over.
session_gone() { rm -f "$STATE/sessions/one" "$STATE/sessions/one.stats"; }

# vpn_args DEV [STATS]: the vpn command line of a session on DEV, into the
# array VPN_ARGS, its counters kept in the file STATS (vpn -s) for
# vpn-status.  -k 0 and -t 0 leave the timer off.
vpn_args() {
	VPN_ARGS=("$VPN" -i "$1")
	[[ -z ${2:-} ]] || VPN_ARGS+=(-s "$2")
	((KEEPALIVE == 0)) || VPN_ARGS+=(-k "$KEEPALIVE")
	((TIMEOUT == 0)) || VPN_ARGS+=(-t "$TIMEOUT")
	# Both ends are the scripts', over a stream: super-packets whole
	# (session.sh's greeting).
	((${WHOLE:-0} == 0)) || VPN_ARGS+=(-W)
	# As root, vpn drops to -u's user once the device is open.
	[[ -z $RUN_USER ]] || ((EUID != 0)) || VPN_ARGS+=(-u "$RUN_USER")
}

# apply_config LINE: the configuration a server pushed (docs/protocol.md):
# the device's addresses and MTU (unless -m), and routes into it besides
# -r's, in place of the last session's.  What would take the server's own
# address into the tunnel, or the default route, is refused unless -D
# (ACCEPT_DEFAULT) said to take it; a route that is there already is left
# as it is.  Each refusal is said, naming the item.  1 if LINE is not a
# configuration, or leaves the device no address.
apply_config() {
	local w v addrs=() routes=() mtu='' words
	read -ra words <<<"$1"
	set -- "${words[@]}"
	[[ ${1:-} == "$MAGIC" && ${2:-} == 1 ]] || { say "not a configuration: '$*'"; return 1; }
	for w in "${@:3}"; do
		v=${w#*=}
		case $w in
		addr=*)	pushed_cidr "$v" && addrs+=("$v") ;;
		route=*) pushed_cidr "$v" && routes+=("$v") ;;
		mtu=*)	[[ $v =~ ^[0-9]{2,5}$ ]] && ((v >= 68 && v <= 65535)) && mtu=$v ;;
		*=*)	true ;;		# peer=, and keys to come: ignored
		*)	false ;;
		esac || { say "the server's configuration has a bad item: '$w'"; return 1; }
	done
	((${#addrs[@]} > 0)) || { say "the server's configuration gives no address"; return 1; }
	# What client.sh found the server's name to stand for (server_addrs).
	SERVER_ADDRS=()
	[[ ! -s $STATE/server ]] || mapfile -t SERVER_ADDRS <"$STATE/server"
	((${#SERVER_ADDRS[@]} > 0)) || { say "the server's address is not known"; return 1; }
	pushed_del
	run ip addr flush dev "$IFACE" scope global || return 1
	[[ -n $MTU_GIVEN || -z $mtu ]] || run ip link set dev "$IFACE" mtu "$mtu" || return 1
	PUSHED=() ROUTED=() GUARDED=()
	for w in "${addrs[@]}"; do
		! pushed_addr "$w" || PUSHED+=("$w")
	done
	((${#PUSHED[@]} > 0)) || { say "the server's configuration gives no address to take"; return 1; }
	for w in "${routes[@]}"; do
		pushed_route "$w"
	done
	say "the server gave $IFACE ${PUSHED[*]}${ROUTED[*]:+, routes ${ROUTED[*]}}${mtu:+, MTU $mtu}"
}

# pushed_cidr VALUE: an address and prefix length, each as ip reads it
# (no leading 0: ip reads it as octal).
pushed_cidr() {
	[[ ${1#*/} =~ ^(0|[1-9][0-9]{0,2})$ ]] && valid_cidr "$1" && addr_bits "${1%/*}"
}

# refused ITEM WHY: say that the server's ITEM is not taken, and why.
refused() { say "refused the server's $1: $2"; }

# fam CIDR: ip's family option for CIDR (or an address).
fam() { if [[ $1 == *:* ]]; then echo -6; else echo -4; fi; }

# keeps_out ITEM CIDR: CIDR, pushed as ITEM, leaves the server's addresses
# outside the tunnel: it covers none, or -D takes it, and each it covers
# is routed the way it goes now.  If not, say so; 1.
keeps_out() {
	local s
	for s in "${SERVER_ADDRS[@]}"; do
		covers "$2" "$s" || continue
		if ! ((${ACCEPT_DEFAULT:-0})); then
			refused "$1" "it holds the server's address $s (-D takes it)"
			return 1
		fi
		server_route "$s" ||
			{ refused "$1" "the server's address $s would go into the tunnel"; return 1; }
	done
}

# pushed_addr CIDR: the pushed address CIDR on the device, unless it is
# the server's address or this host's, or its network is routed already
# (not into the device), or it holds the server's address (without -D).
pushed_addr() {
	local a=${1%/*} s len=32 there
	[[ $a != *:* ]] || len=128
	for s in "${SERVER_ADDRS[@]}"; do
		! covers "$a/$len" "$s" || { refused "addr=$1" "it is the server's address"; return 1; }
	done
	there=$(ip -o addr show to "$a/$len")
	[[ -z $there ]] || { refused "addr=$1" "this host has that address already"; return 1; }
	there=$(ip "$(fam "$a")" route show exact "$1" | grep -v " dev $IFACE " |
	    head -1 | sed "s/ *$//")
	[[ -z $there ]] || { refused "addr=$1" "its network is routed already ($there)"; return 1; }
	keeps_out "addr=$1" "$1" || return 1
	addr_add "$IFACE" "$1" || { refused "addr=$1" "ip did not add it"; return 1; }
}

# pushed_route CIDR: a route of CIDR into the device, unless there is one
# already (it stays as it is), or it is a default route or holds the
# server's address (without -D).  With -D, a default route goes in as its
# two halves, which win over the default route and leave it as it was;
# the server's address is first routed the way it goes now (OpenVPN's
# redirect-gateway def1).
pushed_route() {
	local r=$1 there
	if [[ ${r#*/} == 0 ]]; then
		if ! ((${ACCEPT_DEFAULT:-0})); then
			refused "route=$r" "a default route (-D takes it)"
			return
		fi
		if [[ $r == *:* ]]; then
			pushed_route ::/1
			pushed_route 8000::/1
		else
			pushed_route 0.0.0.0/1
			pushed_route 128.0.0.0/1
		fi
		return
	fi
	keeps_out "route=$r" "$r" || return 0
	there=$(ip "$(fam "$r")" route show exact "$r" | head -1 | sed "s/ *$//")
	[[ -z $there ]] || { refused "route=$r" "there is a route of it already ($there)"; return; }
	run ip route add "$r" dev "$IFACE" || { refused "route=$r" "ip did not add it"; return; }
	echo "$r dev $IFACE" >>"$STATE/pushed"
	ROUTED+=("$r")
}

# server_route ADDR: ADDR, the server's, routed the way it goes now (a host
# route, undone with the pushed routes), so that routes into the tunnel
# that cover it leave the tunnel's own packets outside.  1 if it cannot be.
server_route() {
	local s=$1 len=32 how w=() i via=() dev=''
	[[ $s != *:* ]] || len=128
	[[ " ${GUARDED[*]} " != *" $s "* ]] || return 0
	how=$(ip route get "$s" 2>/dev/null | head -1) || return 1
	read -ra w <<<"$how"
	[[ ${w[0]} != local ]] || return 0	# this host's: never through a route
	for ((i = 0; i + 1 < ${#w[@]}; i++)); do
		case ${w[i]} in
		via)	via=(via "${w[i + 1]}") ;;
		dev)	dev=${w[i + 1]} ;;
		esac
	done
	[[ -n $dev && $dev != "$IFACE" ]] || return 1
	if [[ -z $(ip "$(fam "$s")" route show exact "$s/$len") ]]; then
		run ip route add "$s/$len" "${via[@]}" dev "$dev" || return 1
		echo "$s/$len ${via[*]} dev $dev" >>"$STATE/pushed"
	fi
	GUARDED+=("$s")
}

# pushed_del: the routes the last configuration added, and no other, taken
# out, newest first.  Client.sh calls it at the end as well: routes outside
# the device do not go with it.
pushed_del() {
	local lines=() i r
	[[ ! -s $STATE/pushed ]] || mapfile -t lines <"$STATE/pushed"
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		read -ra r <<<"${lines[i]}"
		run ip route del "${r[@]}" || true
	done
	: >"$STATE/pushed"
}

# addr_bits ADDR: ADDR, IPv4 or IPv6 without a prefix length, as 32 or 128
# binary digits in BITS; 1 if it is not an address.  A leading 0 in an
# IPv4 number is refused: ip reads 030 as 24, octal.
addr_bits() {
	local a=${1%%\%*} g groups=() left=() right=() i d='(0|[1-9][0-9]{0,2})'
	BITS=''
	if [[ $a != *:* ]]; then
		[[ $a =~ ^$d\.$d\.$d\.$d$ ]] || return 1
		for i in 1 2 3 4; do
			((BASH_REMATCH[i] < 256)) || return 1
			bits "${BASH_REMATCH[i]}" 8
		done
		return 0
	fi
	if [[ $a =~ ^(.*:)$d\.$d\.$d\.$d$ ]]; then
		printf -v a '%s%x:%x' "${BASH_REMATCH[1]}" \
		    $((BASH_REMATCH[2] << 8 | BASH_REMATCH[3])) \
		    $((BASH_REMATCH[4] << 8 | BASH_REMATCH[5]))
	fi
	if [[ $a == *::* ]]; then
		[[ ${a#*::} != *::* ]] || return 1
		IFS=: read -ra left <<<"${a%%::*}"
		IFS=: read -ra right <<<"${a#*::}"
		groups=("${left[@]}")
		for ((i = ${#left[@]} + ${#right[@]}; i < 8; i++)); do
			groups+=(0)
		done
		groups+=("${right[@]}")
	else
		IFS=: read -ra groups <<<"$a"
	fi
	((${#groups[@]} == 8)) || return 1
	for g in "${groups[@]}"; do
		[[ $g =~ ^[0-9a-fA-F]{1,4}$ ]] || return 1
		bits $((16#$g)) 16
	done
}

# bits N WIDTH: N in WIDTH binary digits, added to BITS.
bits() {
	local i
	for ((i = $2 - 1; i >= 0; i--)); do
		BITS+=$(($1 >> i & 1))
	done
}

# covers CIDR ADDR: CIDR's network holds ADDR (an address of its family).
covers() {
	local net
	addr_bits "${1%/*}" || return 1
	net=$BITS
	addr_bits "$2" || return 1
	((${#net} == ${#BITS})) && [[ ${net:0:${1#*/}} == "${BITS:0:${1#*/}}" ]]
}

# why_ended STATUS WHO: what ended a session, in words: vpn's status, and
# whether vpn or the transport went first.
why_ended() {
	case $2:$1 in
	vpn:0)	echo "the peer closed it" ;;
	vpn:1)	echo "vpn ended it (exit 1; its message is above)" ;;
	vpn:*)	echo "vpn exited $1" ;;
	*)	echo "the transport ended it" ;;
	esac
}

# readable FD SECS [PID]: FD has bytes, or its end, within SECS, looked at
# every tenth of a second without reading any (a stream's next bytes are
# vpn's); 1 if not, or if PID ended first.  No read -t with a timeout: a
# trap's exit during it leaves bash 5.2's alarm armed, and the cleanup
# then aborts.
readable() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		! read -r -t 0 -u "$1" || return 0
		[[ -z ${3:-} ]] || kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# session_wait T V: wait until the transport T or vpn V ends; which, into
# who.  bash 5.2's wait -n passes over a job it has already reported as
# ended (here: a transport killed by a signal, SIGPIPE on a reset say,
# while the pushed line was applied, with commands run since): it would
# wait for vpn alone, whose stdin we hold open, until vpn's -t.  So each
# is looked at first; nothing runs between that and wait -n, so a job
# that ends meanwhile is one wait -n sees.  /proc, not kill -0: a zombie
# is still there, for wait -n to take, and a transport run as -u's user
# may refuse our signals.
session_wait() {
	who=$1
	[[ -d /proc/$1 ]] || return 0
	who=$2
	[[ -d /proc/$2 ]] || return 0
	wait -n -p who "$1" "$2" 2>/dev/null || true
}

# vpn_stop V: SIGTERM to vpn V, once it is vpn.  When the transport is
# gone as vpn starts, session_wait says so at once, and a SIGTERM to the
# fork before its exec (still our shell, whose trap takes it) was lost:
# vpn then ran until its -t.  The fork has our comm until the exec; the
# pause, at a session's end only, lasts a moment.
vpn_stop() {
	local i me comm
	read -r me </proc/$$/comm
	for ((i = 0; i < STOP_TRIES; i++)); do
		read -r comm 2>/dev/null <"/proc/$1/comm" || break
		[[ $comm == "$me" ]] || break
		sleep "$STOP_PAUSE"
	done
	kill "$1" 2>/dev/null || true
}

# session GATE TRANSPORT...: one tunnel session.  vpn and the transport
# (nc, socat or ssh, on its stdin and stdout) run as two children joined by
# two FIFOs, as in the article's pipeline; the session ends when either one
# does, and the other is then stopped.  If GATE is not empty, vpn starts
# only when the transport's stderr says it (a peer has come), so that -t
# counts the peer's silence, not the wait for one.  A client whose
# configuration the server pushes (PULL=1) reads that line from the
# transport before vpn starts.  Returns vpn's status (ENDED says why), 3 if
# the transport ended before vpn began, 4 if the pushed line was bad.
session() {
	local gate=$1 t v rc=0 who up down err='' line
	shift
	ENDED=''
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
	# A client of a server that pushes its configuration greets it first
	# (session.sh's greeting): one keepalive, which any vpn takes.
	if ((${PULL:-0})); then
		printf '\0\0' >&"$up"
	fi
	if ((${PULL:-0})) && ! pulled "$down" "$t"; then
		kill "$t" 2>/dev/null || true
		wait "$t" || true
		CHILDREN=()
		holds_close
		return "$PULL_RC"
	fi
	session_up
	vpn_args "$IFACE" "$STATE/sessions/one.stats"
	"${VPN_ARGS[@]}" <"$DIR/down" >"$DIR/up" {up}<&- {down}<&- &
	v=$!
	CHILDREN+=("$v")
	session_wait "$t" "$v"
	if [[ $who == "$v" ]]; then
		wait "$v" || rc=$?
		kill "$t" 2>/dev/null || true
		wait "$t" || true
		ENDED=$(why_ended "$rc" vpn)
	else
		vpn_stop "$v"
		wait "$v" || rc=$?
		ENDED=$(why_ended "$rc" transport)
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
	*" socat["*"] E SSL_accept(): "*)
		say "refused a client at the TLS handshake: ${1#*SSL_accept(): }" ;;
	*" socat["*"] E nonblocking operation did not complete"*)
		say "dropped a client whose TLS handshake did not complete in time" ;;
	*" socat["*"] N "*) ;;
	"Listening on "*|"Ncat: Listening on "*|"listening on ["*)
		LISTENING=1
		say "nc: ${1#Ncat: }" ;;
	"Connection received on "*|"Ncat: Connection from "*|"connect to ["*)
		nc_peer "$1"
		say "nc: ${1#Ncat: }" ;;
	"Connection to "*|"Ncat: Connect"*|*") open")
		say "nc: ${1#Ncat: }" ;;
	"Ncat: Version "*|*": inverse host lookup failed: "*) ;;
	*) printf '%s\n' "$1" >&2 ;;
	esac
}

# nc_peer LINE: the peer's address and port (PEER_ADDR, PEER_PORT) from the
# line a listening netcat says when one connects.
nc_peer() {
	local w
	read -ra w <<<"$1"
	case $1 in
	"Connection received on "*)	# OpenBSD: ... on ADDR PORT
		PEER_ADDR=${w[3]} PEER_PORT=${w[4]} ;;
	"Ncat: Connection from "*)	# ncat: ... from ADDR[:PORT].
		w[3]=${w[3]%.}
		PEER_ADDR=${w[3]%:*} PEER_PORT=${w[3]##*:} ;;
	*)				# traditional: ... [ADDR] PORT
		PEER_ADDR=${w[-2]#[} PEER_PORT=${w[-1]}
		PEER_ADDR=${PEER_ADDR%]} ;;
	esac
}

# tls_opts: socat's options for the TLS connection: the certificates, and
# what vpn sets on a TCP socket of its own, which this one, socat's, is
# not.  Nagle's algorithm off (nodelay): a small frame (a ping, an ACK)
# would wait for the ACK of the last small one, which comes back behind the
# bulk queued at the uplink.  And a short unsent queue, TCP_NOTSENT_LOWAT,
# at the floor vpn keeps its own (socat does not follow the rate), so the
# backlog waits in vpn, where small flows go first.  On a 50 Mbit/s tbf
# link, one bulk stream and ping, 3 to 4 interleaved rounds: loaded RTT
# 10.6 ms with neither, 8.0 with nodelay, 6.6 with both (the bare link's:
# 4 to 4.8); unshaped, 1.3 to 1.4 Gbit/s with or without them.
SOL_TCP=6 TCP_NOTSENT_LOWAT=25 NOTSENT_LOWAT=16384
tls_opts() {
	echo "cert=$CERT,key=$KEY,cafile=$CAFILE,verify=1,nodelay,setsockopt-int=$SOL_TCP:$TCP_NOTSENT_LOWAT:$NOTSENT_LOWAT"
}

# bracket HOST: an IPv6 literal in brackets, for socat's HOST:PORT.
bracket() {
	if [[ $1 == *:* ]]; then echo "[$1]"; else echo "$1"; fi
}
