# bench/table.awk - the tables of a bench run, from the figures bench/run.sh
# wrote (a TSV line each: round, row, metric, value; round 0 describes the
# run and its rows).  A cell is the median over the rounds; a ratio to the
# direct row is taken in each round, against that round's direct row, and
# the cell is the median of those ratios.  The many-client rows (round 0's
# "many") have a table of their own, from each round's clients' streams
# (cI_bps): their sum, its ratio to the bare veths' sum, Jain's fairness.
#
#	awk -f bench/table.awk bench/last.tsv		# text
#	awk -v md=1 -f bench/table.awk bench/last.tsv	# markdown, for README.md

BEGIN { FS = "\t" }

FNR == 1 { next }			# the column names
$1 == 0 && $2 == "-" { meta[$3] = $4; next }
$1 == 0 && $3 == "label" { order[++nrows] = $2 }
$1 == 0 && $3 == "shaped" { shaped[++nshaped] = $2 }
$1 == 0 && $3 == "many" { many[++nmany] = $2 }
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

# csum(row, m, r): the sum over the clients of their cI_m in round r; ""
# unless each has one.
function csum(row, m, r,    i, s) {
	for (i = 1; i <= nclients; i++) {
		if (!((row, "c" i "_" m, r) in v))
			return ""
		s += v[row, "c" i "_" m, r]
	}
	return s
}

# cmax(row, m, r): the largest of the clients' cI_m in round r.
function cmax(row, m, r,    i, x) {
	for (i = 1; i <= nclients; i++)
		if ((row, "c" i "_" m, r) in v && (x == "" || v[row, "c" i "_" m, r] > x))
			x = v[row, "c" i "_" m, r]
	return x
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
	    "avg RTT / bare's", "cubic: Mbit/s", "loaded RTT avg/max",
	    "avg RTT / bare's")
	for (i = 1; i <= nshaped; i++) {
		row = shaped[i]
		set(i, row == "direct" ? "bare veth (the reference)" : info[row, "label"],
		    f(med(row, "shaped_bps", 1e6), "%.1f"),
		    f(ratio(row, "shaped_bps", 100), "%.0f"),
		    pair(med(row, "shaped_rtt_avg", 1), med(row, "shaped_rtt_max", 1), "%.1f"),
		    f(ratio(row, "shaped_rtt_avg", 1), "%.2f"),
		    f(med(row, "shaped_cubic_bps", 1e6), "%.1f"),
		    pair(med(row, "shaped_cubic_rtt_avg", 1), med(row, "shaped_cubic_rtt_max", 1), "%.1f"),
		    f(ratio(row, "shaped_cubic_rtt_avg", 1), "%.2f"))
	}
	print_table(nshaped, "lrrrrrrr")
}

# many_row(i, row): row i of the many-client table: each cell the median
# over the rounds in which every client's stream went through, of the
# round's sum, fairness, ratio to the bare veths, mean and largest RTT
# and CPU; each client's own median.
function many_row(i, row,    r, k, s, sq, d, n, np, nt, nc, agg, jain, pct,
    rtt, rmax, cpus, per) {
	for (r = 1; r <= rounds; r++) {
		if ((s = csum(row, "bps", r)) == "" || s == 0)
			continue
		sq = 0
		for (k = 1; k <= nclients; k++)
			sq += v[row, "c" k "_bps", r] ^ 2
		agg[++n] = s / 1e9
		jain[n] = s * s / (nclients * sq)
		d = csum("many-direct", "bps", r)
		if (d != "" && d > 0)
			pct[++np] = 100 * s / d
		if ((d = csum(row, "rtt_avg", r)) != "") {
			rtt[++nt] = d / nclients
			rmax[nt] = cmax(row, "rtt_max", r)
		}
		if ((row, "cpu_ticks", r) in v)
			cpus[++nc] = v[row, "cpu_ticks", r] / meta["hz"] / \
			    (csum(row, "bytes", r) / 1e9)
	}
	per = ""
	for (k = 1; k <= nclients; k++)
		per = per " " f(med(row, "c" k "_bps", 1e9), "%.2f")
	set(i, info[row, "many"], f(median(agg, n), "%.2f"),
	    f(median(pct, np), "%.0f"), f(median(jain, n), "%.3f"), substr(per, 2),
	    pair(median(rtt, nt), median(rmax, nt), "%.2f"),
	    f(median(cpus, nc), "%.2f"), "")
}

function many_table(    i) {
	set(0, "transport", "Gbit/s", "% of bare", "fairness", "per client Gbit/s",
	    "loaded RTT avg/max", "CPU s/GB", "")
	for (i = 1; i <= nmany; i++)
		many_row(i, many[i])
	print_table(nmany, "lrrrrrr")
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
	for (i = 1; i <= nmany; i++) {
		row = many[i]
		text = notes_of(row)
		if (text != "")
			print (md ? "- " : "") "Many clients, " info[row, "many"] ": " \
			    text "."
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
	for (i = 1; i <= nmany; i++) {
		row = many[i]
		printf "- Many clients, %s: `%s` / `%s` on each of %d hosts\n",
		    info[row, "many"], info[row, "server"], info[row, "client"],
		    nclients
	}
	print ""
}

END {
	nclients = meta["many_clients"]
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
		print meta["shape"] "; one stream and ping through each tunnel, the"
		print "stream with the host's congestion control (" meta["cc"] "), then with cubic,"
		print "which fills every queue it finds until one drops."
		print ""
		shaped_table()
		print ""
		print "(The target, for the reader: a tunnel's average loaded RTT at most"
		print "1.5 times the bare link's, at 95 % of its throughput or more.)"
		print ""
	}
	if (nmany) {
		print "Many clients: one server.sh -M " nclients " on a gateway, " \
		    nclients " client hosts (client.sh"
		print "without -l), each on a veth of its own; one iperf3 stream from each"
		print "host to the gateway's tunnel address (bare: the server's), all at"
		print "once, and ping 10 ms apart from each meanwhile."
		print ""
		many_table()
		print ""
		print "Gbit/s: the streams' sum.  % of bare: over the same round's sum over"
		print "the bare veths.  Fairness: Jain's index of the streams, (sum x)^2 /"
		print "(n sum x^2), 1 when all are equal, 1/n when one takes all.  Per client:"
		print "each stream's own median.  RTT: the mean of the hosts' averages, and"
		print "the largest maximum.  CPU: the tunnels' processes on every host.  A"
		print "round in which a stream failed counts only in its own median."
		if (meta["flags"] != "")
			print "(VPN_FLAGS does not reach these: the scripts run vpn.)"
		print ""
	}
	all_notes()
	if (md) {
		print ""
		legend()
	}
}
