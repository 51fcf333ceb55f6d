#!/bin/bash
# tests/61-doc-commands.sh - every command in the docs is one a test runs.
#
# The commands are the lines of the ```sh blocks of README.md, README.zh.md
# and docs/*.md, and of the .Bd -literal blocks of the man pages; each, less a
# leading "sudo " and a trailing "# comment", with its blanks squeezed,
# must appear in tests/*.sh, .ci/run or the Makefile (this file aside),
# outside comments.
# - Every code fence says what it holds (sh or text), so that no block of
#   commands escapes the check.
# - The docs have at least MIN_COMMANDS commands, and a made-up one is not
#   found: the check can fail.
. "$(dirname "$0")/lib.sh"

MIN_COMMANDS=60
fence='```'
docs=("$ROOT/README.md" "$ROOT/README.zh.md" "$ROOT"/docs/*.md)

# squeeze: blanks to one space, none at the ends.
squeeze() { tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }

sources=("$ROOT/.ci/run" "$ROOT/Makefile")
for f in "$ROOT"/tests/*.sh; do
	[[ $(basename "$f") == "$(basename "$0")" ]] || sources+=("$f")
done
haystack=$(cat "${sources[@]}" | grep -v '^[[:blank:]]*#' | squeeze)	# no comments

# commands: the command lines of the docs, one per line, "FILE: LINE".
commands() {
	local f
	for f in "${docs[@]}"; do
		awk -v f="${f#"$ROOT"/}" -v fence="$fence" '
		    index($0, fence) == 1 { inblock = !inblock; sh = ($0 == fence "sh"); next }
		    inblock && sh { print f ": " $0 }' "$f"
	done
	for f in "$ROOT"/docs/*.[18]; do
		awk -v f="${f#"$ROOT"/}" '/^\.Bd -literal/ { inblock = 1; next }
		    /^\.Ed/ { inblock = 0; next } inblock { print f ": " $0 }' "$f"
	done
}

# found LINE: LINE is in the tests.
found() { grep -qF -- "$1" <<<"$haystack"; }

for f in "${docs[@]}"; do
	bad=$({ grep -n "^$fence" "$f" || true; } | awk -F: -v fence="$fence" '
	    { n++ } n % 2 == 1 && $2 != fence "sh" && $2 != fence "text" { printf "%s ", $1 }')
	[[ -z $bad ]] || fail "${f#"$ROOT"/}: line $bad: a fence that opens no sh or text block"
done

n=0 missing=()
while IFS= read -r entry; do
	line=${entry#*: }
	line=$(sed -E 's/^sudo //; s/[[:blank:]]+#.*$//' <<<"$line" | squeeze)
	[[ -n $line && $line != \#* ]] || continue
	n=$((n + 1))
	found "$line" || missing+=("${entry%%: *}: $line")
done < <(commands)
((${#missing[@]} == 0)) || fail "not run by any test: $(printf '\n  %s' "${missing[@]}")"
((n >= MIN_COMMANDS)) || fail "only $n commands found in the docs, want $MIN_COMMANDS or more"
! found "ip link set dev tun9 up" || fail "a made-up command was found: the check is broken"
say "$n commands in the docs, each in a test"
