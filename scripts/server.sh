#!/bin/bash
# server.sh - serve vpn clients, one at a time.  See server.sh -h.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
PORT=33960 IFACE=tun0 ADDRS=() ROUTES=() OUT='' FAMILY=4
KEEPALIVE=10 TIMEOUT=30 TRANSPORT=nc MTU='' DEVICE_USER=''
CERT='' KEY='' CAFILE=''

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	cat <<EOF
usage: $PROGRAM [-6h] [-C cafile] [-c cert] [-i iface] [-K key] [-k secs]
       [-l addr/prefix]... [-m mtu] [-n out_iface] [-p port]
       [-r cidr]... [-T nc|tls|udp|ssh] [-t secs] [-u user]

Make the device IFACE, address it, forward and NAT for it, and serve one
vpn client at a time on PORT; when a client leaves, wait for the next.
Runs in the foreground; SIGINT or SIGTERM undoes every change it made.

  -6           listen on IPv6 (and IPv4-mapped) instead of IPv4
  -C cafile    CA certificate that client certificates must chain to (tls)
  -c cert      this server's certificate, PEM (tls)
  -h           print this help and exit
  -i iface     device to create (default tun0); it must not exist yet
  -K key       this server's private key, PEM (tls)
  -k secs      keepalive after secs without output (default 10; 0: off)
  -l a/prefix  address of the device, IPv4 or IPv6; repeatable
               (default 10.1.1.1/24)
  -m mtu       device MTU (default 1500; 1400 with -T udp)
  -n out_iface masquerade the tunnel's IPv4 subnets out of out_iface
               (default: the interface of the default route, if any)
  -p port      port to listen on (default 33960)
  -r cidr      route cidr (a client's LAN) into the tunnel; repeatable
  -T nc        plain TCP through nc -l: the article's pipeline (default)
  -T tls       TCP through socat OPENSSL-LISTEN, with mutual certificate
               checks (-c, -K, -C): no client without a certificate
               signed by cafile gets a session
  -T udp       UDP through socat UDP-LISTEN, vpn in datagram mode: no
               TCP over TCP; a session ends when the client is silent -t secs
  -T ssh       no listener: set up the device, NAT and routes, and wait;
               clients log in with ssh and run "vpn -i iface" (see
               client.sh -h); give -u for a non-root ssh user
  -t secs      end a session when the client is silent secs (default 30)
  -u user      make the device owned by user, who may then attach to it

Environment: VPN, the vpn binary (default: ../vpn beside this script,
else vpn on PATH).  Firewall rules are tagged "vpn:IFACE".  A FORWARD
chain whose policy drops is reported, with rules that would accept the
tunnel's traffic, and left as it is.
EOF
}

parse_args() {
	local o
	while getopts :6C:c:hi:K:k:l:m:n:p:r:T:t:u: o; do
		case $o in
		6)	FAMILY=6 ;;
		C)	CAFILE=$OPTARG ;;
		c)	CERT=$OPTARG ;;
		h)	usage; exit 0 ;;
		i)	IFACE=$OPTARG ;;
		K)	KEY=$OPTARG ;;
		k)	num -k "$OPTARG" 0 86400; KEEPALIVE=$OPTARG ;;
		l)	cidr -l "$OPTARG"; ADDRS+=("$OPTARG") ;;
		m)	num -m "$OPTARG" 68 65535; MTU=$OPTARG ;;
		n)	OUT=$OPTARG ;;
		p)	num -p "$OPTARG" 1 65535; PORT=$OPTARG ;;
		r)	cidr -r "$OPTARG"; ROUTES+=("$OPTARG") ;;
		T)	TRANSPORT=$OPTARG ;;
		t)	num -t "$OPTARG" 0 86400; TIMEOUT=$OPTARG ;;
		u)	DEVICE_USER=$OPTARG ;;
		:)	usage_error "-$OPTARG needs an argument" ;;
		*)	usage_error "-$OPTARG: unknown option" ;;
		esac
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
	((${#ADDRS[@]} > 0)) || ADDRS=(10.1.1.1/24)
	[[ -n $MTU || $TRANSPORT != udp ]] || MTU=1400
	TAG=vpn:$IFACE
}

checks() {
	local cmds=(ip iptables sysctl ss mkfifo mktemp) f
	case $TRANSPORT in
	nc)	cmds+=(nc) ;;
	tls|udp) cmds+=(socat) ;;
	esac
	preflight "${cmds[@]}"
	for f in "$CERT" "$KEY" "$CAFILE"; do
		[[ -z $f || -r $f ]] || die "$f: cannot read it"
	done
	[[ -z $DEVICE_USER ]] || id -u "$DEVICE_USER" >/dev/null 2>&1 ||
		die "-u: no such user: '$DEVICE_USER'"
	free_device
	case $TRANSPORT in
	nc|tls)	free_port tcp ;;
	udp)	free_port udp ;;
	esac
	if [[ -z $OUT ]]; then
		OUT=$(ip -o route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
		[[ -n $OUT ]] || say "no default route: no NAT (give -n out_iface)"
	else
		ip link show dev "$OUT" >/dev/null 2>&1 || die "-n: no such device: '$OUT'"
	fi
}

setup_nat() {
	local a
	[[ -n $OUT ]] || return 0
	for a in "${ADDRS[@]}"; do
		[[ $a == *:* ]] ||
			ipt iptables nat POSTROUTING -s "$a" -o "$OUT" -j MASQUERADE
	done
}

# one_session: serve one client, and return vpn's status (3: no client).
one_session() {
	local six='' lst=TCP-LISTEN
	[[ $FAMILY == 4 ]] || six=,pf=ip6
	case $TRANSPORT in
	nc)	session "Connection received on" nc -lvn "-$FAMILY" "$PORT" ;;
	tls)	session "starting data transfer loop" socat -d -d \
		    "OPENSSL-LISTEN:$PORT,reuseaddr$six,$(tls_opts)" STDIO ;;
	udp)	lst=UDP-LISTEN
		dgram_session "$lst:$PORT$six" ;;
	esac
}

serve() {
	local start rc first=1
	if [[ $TRANSPORT == ssh ]]; then
		vpn_args
		say "ready: an ssh client runs '${VPN_ARGS[*]}' here"
		sleep infinity &
		CHILDREN=("$!")
		wait "$!"
		return
	fi
	while :; do
		start=$SECONDS
		rc=0
		one_session || rc=$?
		if ((first && rc != 0 && !LISTENING && SECONDS - start < 2)); then
			die "port $PORT: could not serve on it (exit $rc)"
		fi
		first=0
		if ((rc == 3)); then
			say "the listener ended before a client came"
		else
			say "client gone (vpn exit $rc); waiting for the next"
		fi
		if ((SECONDS - start < 1)); then	# never spin
			sleep 1 &
			CHILDREN=("$!")
			wait "$!"
			CHILDREN=()
		fi
	done
}

main() {
	parse_args "$@"
	checks
	traps
	setup_device
	setup_forwarding
	setup_nat
	setup_routes
	fifos
	serve
}

main "$@"
