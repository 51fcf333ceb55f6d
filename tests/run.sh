#!/bin/bash
# tests/run.sh - run tests/NN-*.sh against one vpn binary, several at once.
#
# usage: tests/run.sh [-j jobs] [VPN [TEST...]]
#
# Each test file runs in namespaces of its own, so files run side by side:
# up to -j at once (default $TEST_JOBS, else the number of CPUs plus one).
# A file tagged "# run.sh: heavy" moves bulk data on every core; two heavy
# files of one run never run together, so that neither starves the timers
# of the other.  Another run.sh at the same time (make check's sanitized
# run) may have one of its own going: each waits for $HEAVY_LOCK, default
# tests/log/heavy-VPN.lock, one per binary.  Files tagged "# run.sh: long"
# start first, so that none of them starts last and runs alone.
#
# For each file, its "TEST: file: case [ OK ]" lines (lib.sh's check),
# then one "TEST: file [ OK ]|[FAIL]|[SKIP]" line (kselftest); at the end
# "N passed, N failed, N skipped".  Exit 1 if anything failed.  A test
# exits 0 for a pass, 4 for a skip, anything else for a failure; a skip is
# never counted as a pass.  Each file's output is kept in
# tests/log/VPN/NAME.log, and its tail is shown when it fails.
set -eu -o pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
TIMEOUT=${TEST_TIMEOUT:-300}	# seconds per test file
JOBS=${TEST_JOBS:-$(($(nproc) + 1))}
SKIP=4

usage() { echo "usage: tests/run.sh [-j jobs] [VPN [TEST...]]"; }
while getopts hj: opt; do
	case $opt in
	h)	usage; exit 0 ;;
	j)	JOBS=$OPTARG ;;
	*)	usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: -j: not a number: '$JOBS'" >&2; exit 2; }
VPN=$(realpath "${1:-./vpn}")
shift || true
export VPN
export VPN_SANITIZED=${VPN_SANITIZED:-0}

[[ -x $VPN ]] || { echo "run.sh: $VPN: not an executable" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "run.sh: the tests need root (namespaces, TUN)" >&2; exit 2; }

if (($# > 0)); then
	tests=("$@")
else
	tests=(tests/[0-9][0-9]-*.sh)
fi
LOGS=tests/log/$(basename "$VPN")
mkdir -p "$LOGS"
HEAVY_LOCK=${HEAVY_LOCK:-tests/log/heavy-$(basename "$VPN").lock}

# order: the files tagged long first, the rest as given.
order() {
	local t
	for t in "${tests[@]}"; do
		! grep -q '^# run\.sh: .*long' "$t" || echo "$t"
	done
	for t in "${tests[@]}"; do
		grep -q '^# run\.sh: .*long' "$t" || echo "$t"
	done
}
mapfile -t queue < <(order)

heavy() { grep -q '^# run\.sh: .*heavy' "$1"; }

declare -A NAME=() START=() HEAVY=()
pass=0 failed=0 skipped=0 failures=() heavy_on=0 begin=$SECONDS

# start TEST: run one file in the background.
start() {
	local t=$1 name
	name=$(basename "$t" .sh)
	if heavy "$t"; then
		flock "$HEAVY_LOCK" timeout -k 10 "$TIMEOUT" bash "$t" \
		    </dev/null >"$LOGS/$name.log" 2>&1 &
		HEAVY[$!]=1
		heavy_on=1
	else
		timeout -k 10 "$TIMEOUT" bash "$t" </dev/null >"$LOGS/$name.log" 2>&1 &
		HEAVY[$!]=0
	fi
	NAME[$!]=$name START[$!]=$SECONDS
}

# report PID RC: the file's case lines, then its own.
report() {
	local pid=$1 rc=$2 name=${NAME[$1]} secs log
	secs=$((SECONDS - START[$1]))
	log=$LOGS/$name.log
	grep '^TEST: ' "$log" || true
	case $rc in
	0)	printf 'TEST: %-40s [ OK ] %3ds\n' "$name" "$secs"
		pass=$((pass + 1)) ;;
	"$SKIP") printf 'TEST: %-40s [SKIP] %s\n' "$name" "$(grep -m1 '^SKIP:' "$log" || true)"
		skipped=$((skipped + 1)) ;;
	*)	printf 'TEST: %-40s [FAIL] exit %d after %ds\n' "$name" "$rc" "$secs"
		((rc != 124)) || echo "      (timed out after ${TIMEOUT}s)"
		# Not grep's 1 for no lines: under pipefail it ended the run.
		{ grep -v '^TEST: ' "$log" || true; } | sed 's/^/      | /' | tail -n 40
		failed=$((failed + 1))
		failures+=("$name") ;;
	esac
	((HEAVY[$pid] == 0)) || heavy_on=0
	unset "NAME[$pid]" "START[$pid]" "HEAVY[$pid]"
}

echo "# $VPN, $JOBS at a time" >&2
while ((${#queue[@]} > 0 || ${#NAME[@]} > 0)); do
	i=0
	while ((i < ${#queue[@]} && ${#NAME[@]} < JOBS)); do
		t=${queue[i]}
		if ((heavy_on)) && heavy "$t"; then
			i=$((i + 1))
			continue
		fi
		start "$t"
		queue=("${queue[@]:0:i}" "${queue[@]:i+1}")
	done
	rc=0
	wait -n -p pid || rc=$?
	report "$pid" "$rc"
done
echo "$pass passed, $failed failed, $skipped skipped in $((SECONDS - begin))s"
((failed == 0)) || { echo "failed: ${failures[*]}" >&2; exit 1; }
