# bench/table.awk - the tables of a bench run, from the figures bench/run.sh
# wrote (a TSV line each: round, row, metric, value; round 0 describes the
# run and its rows).  A cell is the median over the rounds; a ratio to the
# direct row is taken in each round, against that round's direct row, and
# the cell is the median of those ratios.
#
#	awk -f bench/table.awk bench/last.tsv		# text
#	awk -v md=1 -f bench/table.awk bench/last.tsv	# markdown, for README.md

BEGIN { FS = "\t" }

FNR == 1 { next }			# the column names
$1 == 0 && $2 == "-" { meta[$3] = $4; next }
$1 == 0 && $3 == "label" { order[++nrows] = $2 }
$1 == 0 && $3 == "shaped" { shaped[++nshaped] = $2 }
$1 == 0 { info[$2, $3] = $4; next }
$3 == "note" { add_note($2, $4, $1); next }
{
	v[$2, $3, $1] = $4
	if ($1 > rounds)
		rounds = $1
	if ($3 ~ /(dropped|invalid|errors)$/ && $4 > 0) {
		if (!(($2, $3) in drops))
			dropkeys[$2] = dropkeys[$2] " " $3
		drops[$2, $3] += $4
	}
	if ($3 ~ /_loss$/ && $4 > 0) {
		if (!(($2, $3) in loss))
			losskeys[$2] = losskeys[$2] " " $3
		if ($4 > loss[$2, $3])
			loss[$2, $3] = $4
	}
}

# add_note(row, text, round): text once, with the rounds it was said in.
function add_note(row, text, r) {
	if (!((row, text) in said)) {
		said[row, text] = r
		notes[row, ++nnotes[row]] = text
	} else
		said[row, text] = said[row, text] ", " r
}

# median(a, n): the median of a[1..n], sorted in place; "" if n is 0.
function median(a, n,    i, j, t) {
	if (n == 0)
		return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

# med(row, m, scale): the median of row's metric m over the rounds, / scale.
function med(row, m, scale,    r, n, a) {
	for (r = 1; r <= rounds; r++)
		if ((row, m, r) in v)
			a[++n] = v[row, m, r] / scale
	return median(a, n)
}

# ratio(row, m, scale): the median of row's m over the direct row's, each
# round's over the same round's, * scale.
function ratio(row, m, scale,    r, n, a) {
	for (r = 1; r <= rounds; r++)
		if ((row, m, r) in v && ("direct", m, r) in v && v["direct", m, r] > 0)
			a[++n] = scale * v[row, m, r] / v["direct", m, r]
	return median(a, n)
}

# range(row, m, scale): "min-max" of row's m over the rounds, / scale.
function range(row, m, scale,    r, lo, hi, x) {
	for (r = 1; r <= rounds; r++)
		if ((row, m, r) in v) {
			x = v[row, m, r] / scale
			if (lo == "" || x < lo)
				lo = x
			if (hi == "" || x > hi)
				hi = x
		}
	return lo == "" ? "" : sprintf("%.1f-%.1f", lo, hi)
}

# cpu(row): the median over the rounds of CPU seconds per 10^9 bytes.
function cpu(row,    r, n, a) {
	for (r = 1; r <= rounds; r++)
		if ((row, "cpu_ticks", r) in v && (row, "up_bytes", r) in v)
			a[++n] = v[row, "cpu_ticks", r] / meta["hz"] / \
			    (v[row, "up_bytes", r] / 1e9)
	return median(a, n)
}

# rss(row): vpn's largest VmHWM at either end in any round, in MiB.
function rss(row,    r, k, max) {
	for (k in v)
		if (index(k, row SUBSEP) == 1 && k ~ /_rss_kib/ && v[k] / 1024 > max)
			max = v[k] / 1024
	return max
}

function f(x, fmt) { return x == "" ? "-" : sprintf(fmt, x) }
function pair(x, y, fmt) {
	return x == "" && y == "" ? "-" : f(x, fmt) " / " f(y, fmt)
}

# -- output: cells into cell[r, c], then as text or markdown

function main_table(    i, row) {
	set(0, "tunnel", "Gbit/s", "-R", "% of direct", "idle RTT min/avg",
	    "loaded RTT avg/max", "CPU s/GB", "vpn RSS MiB")
	for (i = 1; i <= nrows; i++) {
		row = order[i]
		set(i, info[row, "label"], f(med(row, "up_bps", 1e9), "%.2f"),
		    f(med(row, "down_bps", 1e9), "%.2f"),
		    pair(ratio(row, "up_bps", 100), ratio(row, "down_bps", 100), "%.0f"),
		    pair(med(row, "idle_rtt_min", 1), med(row, "idle_rtt_avg", 1), "%.3f"),
		    pair(med(row, "up_rtt_avg", 1), med(row, "up_rtt_max", 1), "%.2f"),
		    f(cpu(row), "%.2f"), f(rss(row), "%.2f"))
	}
	print_table(nrows, "lrrrrrrr")
}

function shaped_table(    i, row) {
	set(0, "tunnel", "Mbit/s", "% of bare", "loaded RTT avg/max",
	    "avg RTT / bare's", "", "", "")
	for (i = 1; i <= nshaped; i++) {
		row = shaped[i]
		set(i, row == "direct" ? "bare veth (the reference)" : info[row, "label"],
		    f(med(row, "shaped_bps", 1e6), "%.1f"),
		    f(ratio(row, "shaped_bps", 100), "%.0f"),
		    pair(med(row, "shaped_rtt_avg", 1), med(row, "shaped_rtt_max", 1), "%.1f"),
		    f(ratio(row, "shaped_rtt_avg", 1), "%.2f"), "", "", "")
	}
	print_table(nshaped, "lrrrr")
}

function set(r, c1, c2, c3, c4, c5, c6, c7, c8) {
	cell[r, 1] = c1; cell[r, 2] = c2; cell[r, 3] = c3; cell[r, 4] = c4
	cell[r, 5] = c5; cell[r, 6] = c6; cell[r, 7] = c7; cell[r, 8] = c8
}

# print_table(n, align): rows 0 (the heads) to n; align has an l or r a column.
function print_table(n, align,    r, c, nc, w, line, sep) {
	nc = length(align)
	for (r = 0; r <= n; r++)
		for (c = 1; c <= nc; c++)
			if (length(cell[r, c]) > w[c])
				w[c] = length(cell[r, c])
	for (r = 0; r <= n; r++) {
		line = ""
		for (c = 1; c <= nc; c++)
			if (md)
				line = line "| " cell[r, c] " "
			else if (substr(align, c, 1) == "l")
				line = line sprintf("%-" w[c] "s  ", cell[r, c])
			else
				line = line sprintf("%" w[c] "s  ", cell[r, c])
		sub(/ +$/, "", line)
		print line (md ? " |" : "")
		if (md && r == 0) {
			sep = ""
			for (c = 1; c <= nc; c++)
				sep = sep (substr(align, c, 1) == "l" ? "|---" : "|---:")
			print sep "|"
		}
	}
}

# hline(text): a line of the heading; markdown breaks it with two spaces.
function hline(text) { print text (md ? "  " : "") }

function heading() {
	hline("make bench, " meta["date"] ": " meta["vpn"] " at " meta["commit"] \
	    ", flags '" meta["flags"] "'")
	hline(meta["machine"] "; TCP congestion control " meta["cc"])
	hline(rounds " interleaved rounds, iperf3 runs of " \
	    meta["secs"] " s; tunnel MTU " meta["mtu"] " over TCP, " \
	    meta["udp_mtu"] " over UDP")
	printf "load average %s at the start, %s at the end; %s s in all\n", \
	    meta["load_start"], meta["load_end"], meta["seconds"]
	print ""
}

function notes_of(row,    i, k, n, text, keys) {
	text = ""
	for (i = 1; i <= nnotes[row]; i++)
		text = text "; " notes[row, i] " (round " said[row, notes[row, i]] ")"
	n = split(dropkeys[row], keys, " ")
	for (k = 1; k <= n; k++)
		text = text "; " keys[k] " " drops[row, keys[k]]
	if (n > 0)
		text = text " (summed over the rounds)"
	n = split(losskeys[row], keys, " ")
	for (k = 1; k <= n; k++)
		text = text "; " keys[k] sprintf(" %.1f", loss[row, keys[k]]) " % at most"
	return substr(text, 3)
}

function all_notes(    i, row, text) {
	for (i = 1; i <= nrows; i++) {
		row = order[i]
		text = notes_of(row)
		if (text != "")
			print (md ? "- " : "") info[row, "label"] ": " text "."
	}
}

function legend(    i, row) {
	print "Rows (server end / client end):"
	print ""
	for (i = 1; i <= nrows; i++) {
		row = order[i]
		printf "- %s: `%s` / `%s`\n", info[row, "label"],
		    info[row, "server"], info[row, "client"]
	}
	print ""
}

END {
	if (md)
		print "<!-- written by bench/run.sh; see README.md, Performance -->"
	heading()
	main_table()
	print ""
	if (range("direct", "up_bps", 1e9) != "")
		printf "The direct veth across the rounds: %s Gbit/s, -R %s.\n",
		    range("direct", "up_bps", 1e9), range("direct", "down_bps", 1e9)
	print "Gbit/s: one iperf3 TCP stream, client end to server end (-R: the other"
	print "way).  % of direct: each round's figure over that round's direct row."
	print "RTT, in ms: ping 10 ms apart, idle and while the stream runs (loaded)."
	print "CPU: user and system time of the tunnel's processes at both ends, per"
	print "10^9 bytes received.  RSS: vpn's largest VmHWM in any round."
	print ""
	if (nshaped) {
		print "Shaped link: the veth as a 50 Mbit/s uplink, on both ends:"
		print meta["shape"] "; one stream and ping through each tunnel."
		print ""
		shaped_table()
		print ""
		print "(The target, for the reader: a tunnel's average loaded RTT at most"
		print "1.5 times the bare link's, at 95 % of its throughput or more.)"
		print ""
	}
	all_notes()
	if (md) {
		print ""
		legend()
	}
}
