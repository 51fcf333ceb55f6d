#!/bin/bash
# tests/run.sh - run every tests/NN-*.sh against one vpn binary.
#
# usage: tests/run.sh [-j] [VPN [TEST...]]
#
# Prints one "TEST: name [ OK ]|[FAIL]|[SKIP]" line per file (kselftest),
# then "N passed, N failed, N skipped", and exits 1 if anything failed.  A
# test exits 0 for a pass, 4 for a skip, anything else for a failure; a skip
# is never counted as a pass.  Each test's output is kept in
# tests/log/NAME.log and shown when it fails.
set -eu -o pipefail
export LC_ALL=C

cd "$(dirname "$0")/.."
VPN=$(realpath "${1:-./vpn}")
shift || true
TIMEOUT=${TEST_TIMEOUT:-300}	# seconds per test file
export VPN
export VPN_SANITIZED=${VPN_SANITIZED:-0}

[[ -x $VPN ]] || { echo "run.sh: $VPN: not an executable" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "run.sh: the tests need root (namespaces, TUN)" >&2; exit 2; }

if (($# > 0)); then
	tests=("$@")
else
	tests=(tests/[0-9][0-9]-*.sh)
fi
mkdir -p tests/log
pass=0 failed=0 skipped=0 failures=()
echo "# $VPN" >&2
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	log=tests/log/$name.log
	start=$SECONDS
	rc=0
	timeout -k 10 "$TIMEOUT" bash "$t" </dev/null >"$log" 2>&1 || rc=$?
	secs=$((SECONDS - start))
	case $rc in
	0)	printf 'TEST: %-40s [ OK ] %3ds\n' "$name" "$secs"
		pass=$((pass + 1)) ;;
	4)	printf 'TEST: %-40s [SKIP] %s\n' "$name" "$(grep -m1 '^SKIP:' "$log" || true)"
		skipped=$((skipped + 1)) ;;
	*)	printf 'TEST: %-40s [FAIL] exit %d after %ds\n' "$name" "$rc" "$secs"
		((rc != 124)) || echo "      (timed out after ${TIMEOUT}s)"
		sed 's/^/      | /' "$log" | tail -n 40
		failed=$((failed + 1))
		failures+=("$name") ;;
	esac
done
echo "$pass passed, $failed failed, $skipped skipped"
((failed == 0)) || { echo "failed: ${failures[*]}" >&2; exit 1; }
