// SPDX-License-Identifier: MIT
/*
 * tests/fuzz.c - libFuzzer target for the frame decoder and packet checker.
 *
 * vpn.c is included whole (wireguard's pattern), so what is fuzzed is the
 * code that runs: frames_to_tun() on a struct vpn whose device is
 * /dev/null, fed the way stdin_read() feeds it, and dgram_to_tun().
 *
 * Input: byte 0 bit 0 is -a (TAP), bit 1 is -o (offloads, TUN only, if
 * this vpn.c has them), bits 2-7 pick the device MTU for -o; byte 1, b,
 * bounds the chunk sizes (1 to (b + 1)^2 bytes); the rest is the stream
 * from the peer.  tests/corpus.sh writes the seeds in tests/corpus/.
 */

#define main vpn_main
int	vpn_main(int, char *[]);
#include "../vpn.c"
#undef main

#undef NDEBUG			/* the asserts are the test */
#include <assert.h>

#define IN_HDR		2	/* bytes of input that are not the stream */
#define MTU_MIN		68	/* IPv4's least; -o's MTU is MTU_MIN + 24 * n */
#define MTU_STEP	24

struct mode {
	int		 tap;		/* -a */
	int		 offload;	/* -o */
	size_t		 mtu;		/* the device's, for -o */
};

struct run {
	const char		*why;	/* frames_to_tun's verdict, or NULL */
	unsigned long long	 inpos;	/* bytes given to the device */
	size_t			 held;	/* bytes held after inpos */
	struct stats		 st;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int devnull = -1;

/* A run of the decoder on a fresh state, whose in has room for cap bytes. */
static void
vpn_new(struct vpn *v, const struct mode *m, size_t cap)
{
	memset(v, 0, sizeof(*v));
	v->tun = devnull;
	v->tap = m->tap;
#ifdef TUN_OFFLOADS
	v->vnet = v->offload = m->offload;
	v->mtu = m->mtu;	/* read at now_ms 0: never read again */
#endif
	memcpy(v->ifname, "fuzz0", sizeof("fuzz0"));
	buf_init(&v->in, cap);
}

/* The next chunk size, 1 to max, from a generator seeded by the input. */
static size_t
chunk_next(uint32_t *state, size_t max)
{
	*state = *state * 1103515245 + 12345;
	return 1 + (*state >> 16) % max;
}

/*
 * feed(p, len, m, cap, max): give ${p} to frames_to_tun in chunks of 1 to
 * ${max} bytes (0: as many as fit), each appended as stdin_read() appends a
 * read, and stop at the first bad frame.  Checks the bookkeeping after
 * every chunk.
 */
static struct run
feed(const uint8_t *p, size_t len, const struct mode *m, size_t cap,
    size_t max)
{
	struct vpn v;
	struct run r;
	uint32_t state = (uint32_t)max;
	size_t fed = 0, n, room, flen, plen;

	vpn_new(&v, m, cap);
	r.why = NULL;
	while (fed < len && r.why == NULL) {
		room = buf_room(&v.in);
		assert(room > 0);	/* else the loop stops polling stdin */
		n = max ? chunk_next(&state, max) : room;
		n = n < room ? n : room;
		n = n < len - fed ? n : len - fed;
		memcpy(buf_tail(&v.in), p + fed, n);
		v.in.len += n;
		fed += n;
		r.why = frames_to_tun(&v);
		assert(v.inpos + v.in.len == fed);
		assert(v.in.off + v.in.len <= v.in.cap);
		assert(memcmp(v.in.p + v.in.off, p + v.inpos, v.in.len) == 0);
		/* Whole frames never wait: /dev/null takes every write. */
		flen = frame_next(v.in.p + v.in.off, v.in.len, &plen);
		assert(r.why != NULL || flen == 0);
	}
	r.inpos = v.inpos;
	r.held = v.in.len;
	r.st = v.st;
	free(v.in.p);
	return r;
}

#ifdef TUN_OFFLOADS
/* The Internet checksum of ${p}[0..${len}) added to ${sum}, big-endian. */
static uint32_t
sum_be(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* ${ours} is the one's complement sum ${ref}, byte-swapped. */
static void
csum_same(uint16_t ours, uint32_t ref)
{
	assert(ours == (uint16_t)(ref >> 8 | ref << 8) ||
	    (ours == 0 && ref == 0xffff) || (ours == 0xffff && ref == 0));
}

/*
 * csum_add() at any alignment and length is the byte-wise sum; so is
 * csum_add_scalar(), which csum_add() leaves whole vector steps to where
 * the CPU has them.
 */
static void
csum_check(const uint8_t *p, size_t len)
{
	size_t skip = len > 8 ? p[0] % 8 : 0;	/* misalign the start */
	uint32_t ref = sum_be(0, p + skip, len - skip);

	csum_same(csum_fold(csum_add(0, p + skip, len - skip)), ref);
	csum_same(csum_fold(csum_add_scalar(0, p + skip, len - skip)), ref);
}

/*
 * A packet frame_error() passed, as -o gives it to the device: a header
 * that stays inside the packet, segments that fit the MTU, and a checksum
 * that, completed as the kernel completes it (vnet_csum), is right.
 */
static void
vnet_check(const uint8_t *pkt, size_t len, size_t mtu)
{
	struct virtio_net_hdr h;
	uint8_t *p;
	uint32_t sum;
	size_t iphl;
	int v6;

	if ((p = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(p, pkt, len);
	vnet_hdr(p, len, mtu, &h);
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		assert(h.flags == 0 && memcmp(p, pkt, len) == 0);
		free(p);
		return;
	}
	assert(len > mtu && h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert(h.hdr_len < len && h.gso_size > 0);
	assert((size_t)h.hdr_len + h.gso_size == mtu);
	assert((size_t)h.csum_start + h.csum_offset + 2 <= h.hdr_len);
	assert(vnet_csum(p, len, &h));
	v6 = p[0] >> 4 == 6;
	iphl = h.csum_start;
	sum = v6 ? sum_be(0, p + 8, 32) : sum_be(0, p + 12, 8);
	sum = sum_be(sum + IPPROTO_TCP + (uint32_t)(len - iphl), p + iphl,
	    len - iphl);
	assert(sum == 0xffff);
	free(p);
}

/* vnet_csum() on any header the device might give: it stays inside. */
static void
vnet_csum_check(const uint8_t *p, size_t len)
{
	struct virtio_net_hdr h;
	uint8_t *copy;
	size_t at;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	len -= sizeof(h);
	if ((copy = malloc(len + 1)) == NULL)
		err(1, "malloc");
	memcpy(copy, p + sizeof(h), len);
	at = (size_t)h.csum_start + h.csum_offset;
	assert(vnet_csum(copy, len, &h) ==
	    (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    (h.csum_start < len && at + 2 <= len)));
	free(copy);
}

/*
 * tcp_merge() on any run of datagrams stays inside it.  What it joins is a
 * packet frame_error() passes, whose payload is the joined datagrams'
 * payloads end to end, and which the device can cut again at ${seg}, with
 * its TCP checksum right once filled in.
 */
static void
merge_check(const uint8_t *p, size_t len, size_t seg)
{
	uint8_t *copy;
	size_t used, plen, th, hl, off, at, qlen;
	int tcp;

	if (len == 0 || seg == 0)
		return;
	if ((copy = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(copy, p, len);
	plen = tcp_merge(copy, len, seg, &used);
	assert(used > 0 && used <= len);
	if (plen > 0) {
		assert(used > seg && plen > seg && plen <= used);
		assert(frame_error(copy, plen, plen, 0) == NULL);
		th = ip_tcp(copy, &tcp);
		hl = th + tcp_hlen(copy + th);
		assert(tcp && plen - hl == used - (used + seg - 1) / seg * hl);
		for (off = 0, at = hl; off < used; off += seg) {
			qlen = used - off < seg ? used - off : seg;
			assert(memcmp(copy + at, p + off + hl, qlen - hl) == 0);
			at += qlen - hl;
		}
		vnet_check(copy, plen, seg);
	} else
		assert(used == (seg < len ? seg : len));
	free(copy);
}

/* The TCP checksum of the packet ${q}, as the byte-wise sum has it. */
static int
tcp_sum_ok(const uint8_t *q, size_t len, size_t th)
{
	uint32_t sum;

	sum = q[0] >> 4 == 6 ? sum_be(0, q + 8, 32) : sum_be(0, q + 12, 8);
	return sum_be(sum + IPPROTO_TCP + (uint32_t)(len - th), q + th,
	    len - th) == 0xffff;
}

/*
 * seg_check(p, hl, th, q, qlen, i, off, last): the segment ${q} tcp_segment()
 * cut as the ${i}th from the super-packet ${p}: its ${off}th payload bytes,
 * the sequence number that says so, IPv4 ID + i, PSH and FIN on the last
 * segment only, CWR on the first only, and checksums right by the
 * byte-wise sum.
 */
static void
seg_check(const uint8_t *p, size_t hl, size_t th, const uint8_t *q,
    size_t qlen, size_t i, size_t off, int last)
{
	uint32_t seq0, seq;
	uint8_t f = p[th + TCP_FLAGS_OFF];

	assert(frame_error(q, qlen, qlen, 0) == NULL && qlen > hl);
	assert(memcmp(q + hl, p + hl + off, qlen - hl) == 0);
	memcpy(&seq0, p + th + TCP_SEQ_OFF, sizeof(seq0));
	memcpy(&seq, q + th + TCP_SEQ_OFF, sizeof(seq));
	assert(ntohl(seq) == ntohl(seq0) + (uint32_t)off);
	if (i > 0)
		f &= (uint8_t)~TCP_CWR;
	if (!last)
		f &= (uint8_t)~(TCP_PSH | TCP_FIN);
	assert(q[th + TCP_FLAGS_OFF] == f);
	if (q[0] >> 4 == 4) {
		assert(((q[IP4_ID_OFF] << 8 | q[IP4_ID_OFF + 1]) & 0xffff) ==
		    (((p[IP4_ID_OFF] << 8 | p[IP4_ID_OFF + 1]) + i) & 0xffff));
		assert(sum_be(0, q, th) == 0xffff);
	}
	assert(tcp_sum_ok(q, qlen, th));
}

/*
 * segments(v, p, hl, th, mtu, run, &at, &seg): take the frames
 * tcp_segment() queued in out from ${p}, check each (seg_check: at most
 * ${mtu}, none longer than the first), and lay them end to end in ${run},
 * as UDP_GRO would give them.  Returns their number; ${at} is the run's
 * length, ${seg} the first's.
 */
static size_t
segments(struct vpn *v, const uint8_t *p, size_t hl, size_t th, size_t mtu,
    uint8_t *run, size_t *at, size_t *seg)
{
	size_t flen, plen, n = 0, off = 0;
	const uint8_t *q;

	*at = *seg = 0;
	while ((flen = frame_next(v->out.p + v->out.off, v->out.len, &plen))) {
		q = v->out.p + v->out.off + FRAME_HDR;
		assert(plen <= mtu && (n == 0 || plen <= *seg));
		seg_check(p, hl, th, q, plen, n, off,
		    v->out.len == flen);
		off += plen - hl;
		*seg = n++ == 0 ? plen : *seg;
		memcpy(run + *at, q, plen);
		*at += plen;
		buf_consume(&v->out, flen);
	}
	return n;
}

/*
 * The run, given to the device as stdin_read_dgram() gives it, counts as
 * the ${n} packets and ${at} bytes the far end sent, joined or not.
 */
static void
run_counts(const uint8_t *run, size_t at, size_t seg, size_t n, size_t mtu)
{
	struct mode m = { 0, 1, mtu };
	struct vpn w;
	size_t off, used;

	vpn_new(&w, &m, at);
	memcpy(w.in.p, run, at);
	for (off = 0; off < at; off += used)
		dgram_run_to_tun(&w, w.in.p + off, at - off, seg, &used);
	assert(w.st.rx_packets == n && w.st.rx_bytes == at);
	assert(w.st.rx_dropped == 0 && w.st.rx_invalid == 0);
	free(w.in.p);
}

/* Make the TCP checksum of ${q} right again, by the byte-wise sum. */
static void
tcp_resum(uint8_t *q, size_t len, size_t th)
{
	uint32_t sum;

	q[th + TCP_CSUM_OFF] = q[th + TCP_CSUM_OFF + 1] = 0;
	sum = q[0] >> 4 == 6 ? sum_be(0, q + 8, 32) : sum_be(0, q + 12, 8);
	sum = ~sum_be(sum + IPPROTO_TCP + (uint32_t)(len - th), q + th,
	    len - th);
	q[th + TCP_CSUM_OFF] = (uint8_t)(sum >> 8);
	q[th + TCP_CSUM_OFF + 1] = (uint8_t)sum;
}

/*
 * change_check(run, at, seg, th, i, how): change datagram ${i} of the run
 * so that it may not join, as ${how} picks: one bit flipped anywhere,
 * or, its checksum made right again, another source port, a sequence
 * number one off, FIN, or (IPv6, under no checksum) another hop limit.
 * tcp_merge() then joins nothing from datagram ${i} on.
 */
static void
change_check(const uint8_t *run, size_t at, size_t seg, size_t th, size_t i,
    size_t how)
{
	uint8_t *mut, *q;
	size_t used, len = at - i * seg < seg ? at - i * seg : seg;

	if ((mut = malloc(at)) == NULL)
		err(1, "malloc");
	memcpy(mut, run, at);
	q = mut + i * seg;
	switch (how % 4) {
	case 0:
		q[how / 4 / 8 % len] ^= (uint8_t)(1 << how / 4 % 8);
		break;
	case 1:
		q[th + 1]++;			/* the source port */
		tcp_resum(q, len, th);
		break;
	case 2:
		q[th + TCP_SEQ_OFF + 3]++;
		tcp_resum(q, len, th);
		break;
	case 3:
		if (q[0] >> 4 == 6)
			q[7]--;			/* the hop limit */
		else {
			q[th + TCP_FLAGS_OFF] |= TCP_FIN;
			tcp_resum(q, len, th);
		}
		break;
	}
	if (tcp_merge(mut, at, seg, &used) > 0)
		assert(i > 0 && used <= i * seg);
	free(mut);
}

/*
 * tcp_segment() cuts a super-packet into whole packets of the MTU, every
 * checksum right, that tcp_merge() joins back into the packet it was (but
 * for the TCP checksum, which the device is told to fill in, and the
 * IPv4 one, which it makes again).
 */
static void
segment_check(const uint8_t *p, size_t len, size_t mtu)
{
	struct virtio_net_hdr h;
	struct vpn v;
	struct mode none = { 0, 0, 0 };
	uint8_t *run, *orig, f;
	size_t th, hl, at, seg, used, n;
	int v6, tcp;

	if (len < IP4_HLEN || (th = ip_tcp(p, &tcp), !tcp) ||
	    th + TCP_HLEN > len)
		return;
	hl = th + tcp_hlen(p + th);
	if (hl >= len || hl < th + TCP_HLEN || mtu <= hl)
		return;
	v6 = p[0] >> 4 == 6;
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.csum_start = (uint16_t)th;
	h.gso_size = (uint16_t)(mtu - hl);
	vpn_new(&v, &none, 1);
	buf_init(&v.out, OUT_MAX);
	if ((run = malloc(OUT_MAX)) == NULL || (orig = malloc(len)) == NULL)
		err(1, "malloc");
	memcpy(orig, p, len);
	if (tcp_segment(&v, orig, len, &h) > 0) {
		n = segments(&v, p, hl, th, mtu, run, &at, &seg);
		assert(at == len + (n - 1) * hl);
		merge_check(run, at, seg);
		run_counts(run, at, seg, n, mtu);
		f = p[th + TCP_FLAGS_OFF] & (uint8_t)~(TCP_CWR | TCP_PSH);
		if (n > 1 && f == TCP_ACK && (v6 || th == IP4_HLEN)) {
			change_check(run, at, seg, th, p[len - 1] % n,
			    (size_t)p[len - 2] << 8 | p[len - 3]);
			assert(tcp_merge(run, at, seg, &used) == len);
			assert(used == at);
			vnet_check(run, len, seg);
			memcpy(run + th + TCP_CSUM_OFF, p + th + TCP_CSUM_OFF,
			    sizeof(uint16_t));
			if (!v6) {
				assert(sum_be(0, run, th) == 0xffff);
				memcpy(run + IP4_CSUM_OFF, p + IP4_CSUM_OFF,
				    sizeof(uint16_t));
			}
			assert(memcmp(run, p, len) == 0);
		}
	}
	free(run);
	free(orig);
	free(v.out.p);
	free(v.in.p);
}

/* The same bytes as one packet, or a run of datagrams, for the offloads. */
static void
offload_checks(const uint8_t *p, size_t len, const struct mode *m)
{
	int ip = len <= FRAME_MAX && frame_error(p, len, len, 0) == NULL;

	if (m->offload && ip)
		vnet_check(p, len, m->mtu);
	vnet_csum_check(p, len);
	csum_check(p, len);
	if (ip)
		segment_check(p, len, m->mtu);
	merge_check(p, len, m->mtu);
}
#endif

/*
 * The bytes before r->inpos are whole frames, each keepalive or a packet
 * that frame_error() passes (and with -o, that vnet_hdr() handles right),
 * and the counters say so; a verdict names a frame that frame_error()
 * refuses on the bytes it had.
 */
static void
run_check(const struct run *r, const uint8_t *p, size_t len,
    const struct mode *m)
{
	int tap = m->tap;
	unsigned long long pkts = 0, bytes = 0, ka = 0;
	size_t pos = 0, plen, have;

	while (pos < r->inpos) {
		assert(r->inpos - pos >= FRAME_HDR);
		plen = (size_t)p[pos] << 8 | p[pos + 1];
		assert(r->inpos - pos - FRAME_HDR >= plen);
		if (plen == 0)
			ka++;
		else {
			assert(frame_error(p + pos + FRAME_HDR, plen, plen,
			    tap) == NULL);
#ifdef TUN_OFFLOADS
			if (m->offload)
				vnet_check(p + pos + FRAME_HDR, plen, m->mtu);
#endif
			pkts++;
			bytes += plen;
		}
		pos += FRAME_HDR + plen;
	}
	assert(pos == r->inpos);
	assert(r->st.rx_packets == pkts && r->st.rx_bytes == bytes);
	assert(r->st.keepalives_rx == ka && r->st.rx_dropped == 0);
	if (r->why == NULL) {
		assert(r->inpos + r->held == len);
		return;
	}
	assert(len - pos > FRAME_HDR);
	plen = (size_t)p[pos] << 8 | p[pos + 1];
	have = len - pos - FRAME_HDR < plen ? len - pos - FRAME_HDR : plen;
	assert(plen > 0 && frame_error(p + pos + FRAME_HDR, have, plen, tap));
}

/*
 * Once frame_error() refuses a packet from its first bytes, more bytes never
 * make it acceptable; else a stream split differently would be judged
 * differently.
 */
static void
frame_error_monotone(const uint8_t *p, size_t len, int tap)
{
	size_t have;
	int bad = 0;

	for (have = 0; have <= len; have++) {
		if (frame_error(p, have, len, tap))
			bad = 1;
		else
			assert(!bad);
	}
}

/* The same bytes as one datagram: exactly one counter moves, rightly. */
static void
dgram_check(const uint8_t *p, size_t len, const struct mode *m)
{
	struct vpn v;
	uint8_t *copy;
	int ok, tap = m->tap;

	vpn_new(&v, m, FRAME_MAX + 1);
	v.dgram = 1;
	v.st.rx_invalid = 1;	/* warnx speaks of the first only: stay quiet */
	if ((copy = malloc(len + 1)) == NULL)	/* -o writes into packets */
		err(1, "malloc");
	memcpy(copy, p, len);
	dgram_to_tun(&v, copy, len);
	free(copy);
	ok = len > 0 && len <= FRAME_MAX &&
	    frame_error(p, len, len, tap) == NULL;
	assert(v.st.keepalives_rx == (len == 0));
	assert(v.st.rx_packets == (unsigned long long)ok);
	assert(v.st.rx_bytes == (ok ? len : 0));
	assert(v.st.rx_invalid == 1 + (unsigned long long)(len > 0 && !ok));
	assert(v.st.rx_dropped == 0);
	if (len <= FRAME_MAX)
		frame_error_monotone(p, len, tap);
	free(v.in.p);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	struct mode m;
	const uint8_t *p = data + IN_HDR;
	size_t len, max;

	if (size < IN_HDR)
		return 0;
	if (devnull == -1 && (devnull = open("/dev/null", O_WRONLY)) == -1)
		err(1, "/dev/null");
	m.tap = data[0] & 1;
	m.offload = !m.tap && data[0] & 2;
	m.mtu = MTU_MIN + MTU_STEP * (size_t)(data[0] >> 2);
	max = ((size_t)data[1] + 1) * ((size_t)data[1] + 1);
	len = size - IN_HDR;

	/* As the program reads: a buffer of IN_MAX, reads as big as fit. */
	whole = feed(p, len, &m, IN_MAX, 0);
	run_check(&whole, p, len, &m);
	/* Small reads into the smallest buffer, so it compacts all the time. */
	split = feed(p, len, &m, FRAME_ROOM, max);
	run_check(&split, p, len, &m);
	assert(split.why == whole.why && split.inpos == whole.inpos);
	assert(split.st.rx_packets == whole.st.rx_packets);
	assert(split.st.keepalives_rx == whole.st.keepalives_rx);

	dgram_check(p, len, &m);
#ifdef TUN_OFFLOADS
	offload_checks(p, len, &m);
#endif
	return 0;
}
