#!/bin/bash
# client.sh - keep a vpn link to a server.sh up.  See client.sh -h.
set -eu -o pipefail
export LC_ALL=C

PROGRAM=${0##*/}
SERVER='' PORT=33960 PORT_SET=0 IFACE=tun0 ADDRS=() ROUTES=()
KEEPALIVE=10 TIMEOUT=30 TRANSPORT=nc MTU='' REMOTE='' SSH_OPTS=()
CERT='' KEY='' CAFILE=''
BACKOFF_MAX=30			# seconds between attempts, at most
HEALTHY=10			# a session this long (s) resets the backoff

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
	cat <<EOF
usage: $PROGRAM [-h] [-C cafile] [-c cert] [-e command] [-i iface] [-K key]
       [-k secs] [-l addr/prefix]... [-m mtu] [-o ssh_option]... [-p port]
       [-r cidr]... [-T nc|tls|ssh|udp] [-t secs] -s server

Make the device IFACE, address it, route the server's networks into it,
and keep a vpn session to server up: when it ends, or the server is not
there yet, try again after 1, 2, 4 ... 30 s.  Runs in the foreground;
SIGINT or SIGTERM undoes every change it made.

  -C cafile    CA certificate the server's certificate must chain to (tls)
  -c cert      this client's certificate, PEM (tls)
  -e command   with -T ssh, the command run on the server (default
               "vpn -i tun0 -k SECS -t SECS"); it must attach to a device
               that is set up there, e.g. by "server.sh -T ssh -u USER"
  -h           print this help and exit
  -i iface     device to create (default tun0); it must not exist yet
  -K key       this client's private key, PEM (tls)
  -k secs      keepalive after secs without output (default 10; 0: off)
  -l a/prefix  address of the device, IPv4 or IPv6; repeatable
               (default 10.1.1.2/24)
  -m mtu       device MTU (default 1500; 1400 with -T udp)
  -o option    with -T ssh, an ssh -o option (IdentityFile=..., ...);
               repeatable
  -p port      server's port (default 33960; with -T ssh, ssh's default)
  -r cidr      route cidr (the server's LAN) into the tunnel; repeatable
  -s server    server's address or name (IPv6 literals too); with -T ssh,
               [user@]host
  -T nc        plain TCP through nc (default)
  -T tls       TCP through socat OPENSSL, with mutual certificate checks
               (-c, -K, -C); the server's certificate must name server
  -T ssh       ssh server command: the far side runs over ssh, no port open
  -T udp       UDP through socat, vpn in datagram mode: no TCP over TCP
  -t secs      end a session when the server is silent secs (default 30)

Environment: VPN, the vpn binary (default: ../vpn beside this script,
else vpn on PATH).  Firewall rules are tagged "vpn:IFACE".  A FORWARD
chain whose policy drops is reported, with rules that would accept the
tunnel's traffic, and left as it is.
EOF
}

parse_args() {
	local o
	while getopts :C:c:e:hi:K:k:l:m:o:p:r:s:T:t: o; do
		case $o in
		C)	CAFILE=$OPTARG ;;
		c)	CERT=$OPTARG ;;
		e)	REMOTE=$OPTARG ;;
		h)	usage; exit 0 ;;
		i)	IFACE=$OPTARG ;;
		K)	KEY=$OPTARG ;;
		k)	num -k "$OPTARG" 0 86400; KEEPALIVE=$OPTARG ;;
		l)	cidr -l "$OPTARG"; ADDRS+=("$OPTARG") ;;
		m)	num -m "$OPTARG" 68 65535; MTU=$OPTARG ;;
		o)	SSH_OPTS+=(-o "$OPTARG") ;;
		p)	num -p "$OPTARG" 1 65535; PORT=$OPTARG PORT_SET=1 ;;
		r)	cidr -r "$OPTARG"; ROUTES+=("$OPTARG") ;;
		s)	SERVER=$OPTARG ;;
		T)	TRANSPORT=$OPTARG ;;
		t)	num -t "$OPTARG" 0 86400; TIMEOUT=$OPTARG ;;
		:)	usage_error "-$OPTARG needs an argument" ;;
		*)	usage_error "-$OPTARG: unknown option" ;;
		esac
	done
	shift $((OPTIND - 1))
	(($# == 0)) || usage_error "unexpected argument: '$1'"
	[[ -n $SERVER ]] || usage_error "-s server is required"
	[[ $IFACE =~ ^[A-Za-z0-9_.-]{1,15}$ ]] ||
		usage_error "-i: not a device name: '$IFACE'"
	case $TRANSPORT in
	nc|udp|ssh) ;;
	tls)	[[ -n $CERT && -n $KEY && -n $CAFILE ]] ||
			usage_error "-T tls needs -c cert, -K key and -C cafile" ;;
	*)	usage_error "-T: not nc, tls, ssh or udp: '$TRANSPORT'" ;;
	esac
	[[ -z $REMOTE || $TRANSPORT == ssh ]] || usage_error "-e needs -T ssh"
	if ((${#SSH_OPTS[@]} > 0)) && [[ $TRANSPORT != ssh ]]; then
		usage_error "-o needs -T ssh"
	fi
	((${#ADDRS[@]} > 0)) || ADDRS=(10.1.1.2/24)
	[[ -n $MTU || $TRANSPORT != udp ]] || MTU=1400
	[[ -n $REMOTE ]] || REMOTE="vpn -i tun0 -k $KEEPALIVE -t $TIMEOUT"
	TAG=vpn:$IFACE
}

checks() {
	local cmds=(ip iptables sysctl mkfifo mktemp) f
	case $TRANSPORT in
	nc)	cmds+=(nc) ;;
	tls|udp) cmds+=(socat) ;;
	ssh)	cmds+=(ssh) ;;
	esac
	preflight "${cmds[@]}"
	for f in "$CERT" "$KEY" "$CAFILE"; do
		[[ -z $f || -r $f ]] || die "$f: cannot read it"
	done
	free_device
}

# one_session: one attempt; vpn's status, or the transport's.
one_session() {
	local host port=()
	host=$(bracket "$SERVER")
	case $TRANSPORT in
	nc)	session '' nc "$SERVER" "$PORT" ;;
	tls)	session '' socat "OPENSSL:$host:$PORT,$(tls_opts)" STDIO ;;
	udp)	dgram_session "UDP:$host:$PORT" ;;
	ssh)	((PORT_SET == 0)) || port=(-p "$PORT")
		session '' ssh -e none "${port[@]}" "${SSH_OPTS[@]}" \
		    "$SERVER" "$REMOTE" ;;
	esac
}

connect() {
	local start rc delay=1 where=$SERVER
	[[ $TRANSPORT == ssh ]] || where+=" port $PORT"
	while :; do
		start=$SECONDS
		rc=0
		say "connecting to $where ($TRANSPORT)"
		one_session || rc=$?
		((SECONDS - start < HEALTHY)) || delay=1
		say "session with $where ended (exit $rc); reconnecting in $delay s"
		sleep "$delay" &
		CHILDREN=("$!")
		wait "$!"
		CHILDREN=()
		delay=$((delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2))
	done
}

main() {
	parse_args "$@"
	checks
	traps
	setup_device
	setup_forwarding
	setup_routes
	fifos
	connect
}

main "$@"
