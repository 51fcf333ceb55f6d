#!/bin/bash
# scripts/deps.sh - install what a make target needs, or say what is missing.
#
# usage: scripts/deps.sh [-n] TARGET...
#
# TARGET is build, demo, unit, lint, check or bench.  Every command the
# target runs that is not installed is looked up in the table below; on
# Debian (apt-get) their packages are installed, after one line saying
# which, as root or through sudo.  Elsewhere, or with -n, one line names
# what is missing, and the exit status is 1.  Nothing to do: no output.
set -eu -o pipefail
shopt -s extglob
export LC_ALL=C

PROGRAM=${0##*/}
LIBFUZZER=/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a

# NEED[target]: what it runs, as COMMAND:PACKAGE (a path for a command
# outside a user's PATH).
declare -A NEED=(
	[build]='cc:gcc make:make'
	[demo]='ip:iproute2 ss:iproute2 iptables:iptables nc:netcat-openbsd
	    ping:iputils-ping iperf3:iperf3 sysctl:procps'
	[unit]="clang:clang $LIBFUZZER:libclang-rt-14-dev"
	[lint]='shellcheck:shellcheck mandoc:mandoc'
	[check]='ip6tables:iptables socat:socat ncat:ncat
	    nc.traditional:netcat-traditional busybox:busybox openssl:openssl
	    ssh:openssh-client ssh-keygen:openssh-client
	    ssh-keyscan:openssh-client /usr/sbin/sshd:openssh-server
	    jq:jq valgrind:valgrind unshare:util-linux setpriv:util-linux
	    runuser:util-linux ps:procps systemd-analyze:systemd
	    man:man-db mandoc:mandoc'
	[bench]='jq:jq socat:socat openvpn:openvpn wireguard-go:wireguard-go
	    wg:wireguard-tools tincd:tinc tc:iproute2'
)
# Targets that need others' commands too.
declare -A ALSO=([demo]=build [unit]=build [check]='build demo unit'
    [bench]='build demo')

# installed CMD: a command on PATH, or a file that exists.
installed() {
	if [[ $1 == /* ]]; then
		[[ -e $1 ]]
	elif [[ $1 == nc ]]; then	# the tests use OpenBSD nc's flags
		command -v nc >/dev/null && nc -h 2>&1 | grep -q OpenBSD
	else
		command -v "$1" >/dev/null
	fi
}

# missing TARGET...: the packages whose commands are not installed.
missing() {
	local t n
	for t in "$@"; do
		[[ -n ${NEED[$t]+x} ]] || { echo "$PROGRAM: no such target: '$t'" >&2; exit 2; }
		for n in ${NEED[$t]}; do
			installed "${n%%:*}" || echo "${n#*:}"
		done
		# shellcheck disable=SC2086 # a list of targets
		[[ -z ${ALSO[$t]:-} ]] || missing ${ALSO[$t]}
	done
}

main() {
	local dry=0 pkgs sudo=() log
	if [[ ${1:-} == -n ]]; then
		dry=1
		shift
	fi
	(($# > 0)) || { echo "usage: $PROGRAM [-n] TARGET..." >&2; exit 2; }
	if ((EUID != 0)) && command -v sudo >/dev/null; then
		sudo=(sudo)
	fi
	# They make network namespaces and devices: root, or sudo to become it.
	if [[ " $* " == *" "@(check|demo|bench)" "* ]] && ((EUID != 0)) &&
	    ((${#sudo[@]} == 0)); then
		echo "make $*: needs root: run it as root, or install sudo" >&2
		exit 1
	fi
	mapfile -t pkgs < <(missing "$@" | sort -u)
	((${#pkgs[@]} > 0)) || return 0
	if ((dry)) || ! command -v apt-get >/dev/null ||
	    { ((EUID != 0)) && ((${#sudo[@]} == 0)); }; then
		echo "make $*: missing ${pkgs[*]}: install them" \
		    "(apt-get install ${pkgs[*]}) and run it again" >&2
		exit 1
	fi
	echo "make $*: needs ${pkgs[*]}: installing with apt-get" >&2
	log=$(mktemp)
	if ! { "${sudo[@]}" apt-get update -qq &&
	    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install \
	    -y -qq --no-install-recommends "${pkgs[@]}"; } >"$log" 2>&1; then
		tail -5 "$log" >&2
		rm -f "$log"
		echo "$PROGRAM: apt-get install ${pkgs[*]} failed" >&2
		exit 1
	fi
	rm -f "$log"
	mapfile -t pkgs < <(missing "$@" | sort -u)
	((${#pkgs[@]} == 0)) ||
		{ echo "$PROGRAM: still missing after apt-get: ${pkgs[*]}" >&2; exit 1; }
}

main "$@"
