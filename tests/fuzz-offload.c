// SPDX-License-Identifier: MIT
/*
 * tests/fuzz-offload.c - libFuzzer target for offload.c: the checksum
 * (vector and scalar) against a byte-wise reference, the device header,
 * TCP super-packets cut into segments and joined again, a changed segment
 * that must not join, and the counters of a joined run.
 *
 * Input: byte 0, bits 2-7, is n for a device MTU of 68 + 24n; the rest is
 * one packet, and the same bytes as a run of datagrams of the MTU each,
 * and, its first bytes a virtio_net_hdr, a packet from the device.
 * tests/corpus.sh writes the seeds in tests/corpus/offload/.
 */

#include "fuzz.h"

#define IN_HDR		1	/* bytes of input that are not the packet */
#define GAP_MAX		3	/* the gap offload_cut() leaves: 0 to 3 */
#define UNTOUCHED	0xa5	/* in what offload_cut() must not write */

static void *
mem_dup(const uint8_t *p, size_t len)
{
	uint8_t *q = mem_alloc(len + 1);	/* malloc(0) may be NULL */

	memcpy(q, p, len);
	return q;
}

/* Are the ${n} bytes at ${p} all UNTOUCHED? */
static int
untouched(const uint8_t *p, size_t n)
{
	static uint8_t pat[4096];
	size_t k;

	if (pat[0] != UNTOUCHED)
		memset(pat, UNTOUCHED, sizeof(pat));
	for (; n > 0; p += k, n -= k) {
		k = n < sizeof(pat) ? n : sizeof(pat);
		if (memcmp(p, pat, k) != 0)
			return 0;
	}
	return 1;
}

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
 * csum_add_scalar(), which csum_add() leaves what follows whole vector
 * steps to; and the vector steps alone sum as the scalar code does.
 */
static void
csum_check(const uint8_t *p, size_t len)
{
	size_t skip = len > 8 ? p[0] % 8 : 0;	/* misalign the start */
	uint32_t ref = sum_be(0, p + skip, len - skip);
	uint16_t sum;

	sum = csum_fold(csum_add(0, p + skip, len - skip));
	csum_same(sum, ref);
	assert(sum == csum_fold(csum_add_scalar(0, p + skip, len - skip)));
#ifdef CSUM_VEC
	len -= skip;
	len -= len % CSUM_VEC;
	if (__builtin_cpu_supports("avx2"))
		assert(csum_fold(csum_add_avx2(0, p + skip, len)) ==
		    csum_fold(csum_add_scalar(0, p + skip, len)));
#endif
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
 * Leave in ${q}'s TCP checksum the pseudo-header's sum, its length the
 * whole TCP length, as the kernel leaves a super-packet's.
 */
static void
tcp_partial(uint8_t *q, size_t len, size_t th)
{
	uint32_t sum;

	sum = q[0] >> 4 == 6 ? sum_be(0, q + 8, 32) : sum_be(0, q + 12, 8);
	sum = sum_be(sum + IPPROTO_TCP + (uint32_t)(len - th), q, 0);
	q[th + TCP_CSUM_OFF] = (uint8_t)(sum >> 8);
	q[th + TCP_CSUM_OFF + 1] = (uint8_t)sum;
}

/* Are the IPv4 header's and TCP checksums of ${q} right, byte-wise? */
static int
sums_ok(const uint8_t *q, size_t len, size_t th)
{
	return (q[0] >> 4 != 4 || sum_be(0, q, th) == 0xffff) &&
	    tcp_sum_ok(q, len, th);
}

/*
 * offload_hdr() takes what frame_error() passes, and nothing else, but,
 * unless ${joined} (offload_join()'s, every segment checked), a
 * super-packet whose checksums are wrong.  For a packet it takes: a header
 * that stays inside the packet, segments that fit the MTU, and a checksum
 * that, completed as the kernel completes it (offload_csum), is right.
 */
static void
hdr_check(const uint8_t *pkt, size_t len, size_t mtu, int joined)
{
	struct virtio_net_hdr h, h2;
	uint8_t *p = mem_dup(pkt, len);
	int ok = len > 0 && frame_error(pkt, len, len, 0) == NULL;

	assert(ip_whole(pkt, len) == ok);
	assert(offload_hdr(p, len, mtu, 1, &h) == ok);
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		assert(h.flags == 0 && memcmp(p, pkt, len) == 0);
		free(p);
		return;
	}
	assert(len > mtu && h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert(h.hdr_len < len && h.gso_size > 0);
	assert((size_t)h.hdr_len + h.gso_size == mtu);
	assert((size_t)h.csum_start + h.csum_offset + 2 <= h.hdr_len);
	assert(offload_csum(p, len, &h));
	assert(tcp_sum_ok(p, len, h.csum_start));
	memcpy(p, pkt, len);
	assert(offload_hdr(p, len, mtu, joined, &h2) ==
	    (joined || sums_ok(pkt, len, h.csum_start)));
	free(p);
}

/* offload_csum() on any header the device might give: it stays inside. */
static void
csum_complete_check(const uint8_t *p, size_t len)
{
	struct virtio_net_hdr h;
	uint8_t *copy;
	size_t at;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	copy = mem_dup(p + sizeof(h), len - sizeof(h));
	len -= sizeof(h);
	at = (size_t)h.csum_start + h.csum_offset;
	assert(offload_csum(copy, len, &h) ==
	    (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    (h.csum_start < len && at + 2 <= len)));
	free(copy);
}

/*
 * A super-packet from the device that offload_cut() cut in ${n} segments
 * goes whole (offload_whole) exactly when the far end gives it to its
 * kernel as one, to be cut in segments as long as the first.
 */
static void
whole_check(const uint8_t *p, size_t len, const struct virtio_net_hdr *h,
    int n, size_t seg)
{
	struct virtio_net_hdr far;
	uint8_t *copy;
	int tcp;

	if (n < 2 || !ip_whole(p, len) || ip_tcp(p, &tcp) != h->csum_start)
		return;
	copy = mem_dup(p, len);
	assert(offload_hdr(copy, len, seg, 1, &far));
	assert(offload_whole(p, len, h) ==
	    (far.gso_type != VIRTIO_NET_HDR_GSO_NONE));
	free(copy);
}

/*
 * offload_cut() on any header and packet, given room for twice the packet
 * as vpn.c gives it: it writes only segments, each after a gap it leaves
 * alone, in the room given; every one a whole IP packet no shorter than
 * OFFLOAD_SEG_MIN (vpn.c's CUT_MAX counts on it), or the packet whole.
 */
static void
cut_any_check(const uint8_t *p, size_t len)
{
	struct virtio_net_hdr h;
	size_t room = 2 * len, gap = len % (GAP_MAX + 1), lens[64];
	size_t at;
	uint8_t *dst;
	int n, i;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	len -= sizeof(h);
	dst = mem_alloc(room);
	memset(dst, UNTOUCHED, room);
	n = offload_cut(p, len, &h, dst, room, gap, lens, 64);
	assert(n == OFFLOAD_INVALID || n == OFFLOAD_NOROOM || n > 0);
	for (i = 0, at = 0; i < n; i++) {
		assert(untouched(dst + at, gap));
		at += gap;
		if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
			assert(n == 1 && lens[i] == len);
		else
			assert(lens[i] >= OFFLOAD_SEG_MIN &&
			    ip_whole(dst + at, lens[i]));
		at += lens[i];
	}
	assert(untouched(dst + at, room - at));
	whole_check(p, len, &h, n, n > 0 ? lens[0] : 0);
	free(dst);
}

/*
 * join(dg, n, dst, &took): offload_join() of ${dg}[0..${n}), its headers
 * and the payloads it names laid end to end at ${dst} (FRAME_MAX bytes), as
 * the device's writev() takes them; its length, 0 for none.
 */
static size_t
join(const struct iovec *dg, size_t n, uint8_t *dst, size_t *took)
{
	uint8_t hdr[OFFLOAD_HDR_MAX];
	size_t plen, hl, at, i;

	if ((plen = offload_join(dg, n, hdr, &hl, took)) == 0)
		return 0;
	assert(hl <= OFFLOAD_HDR_MAX && plen <= FRAME_MAX);
	memcpy(dst, hdr, hl);
	for (i = 0, at = hl; i < *took; at += dg[i++].iov_len - hl) {
		assert(at + dg[i].iov_len - hl <= plen);
		memcpy(dst + at, (uint8_t *)dg[i].iov_base + hl,
		    dg[i].iov_len - hl);
	}
	assert(at == plen);
	return plen;
}

/*
 * join_check(dg, n, dst, &took): what offload_join() joins of the packets
 * ${dg}[0..${n}) is a packet frame_error() passes whose payload is theirs
 * end to end, and which the device can cut again at the first's length,
 * its TCP checksum right once filled in.  Returns the joined length; the
 * packet is at ${dst}, how many it took in ${took}.
 */
static size_t
join_check(const struct iovec *dg, size_t n, uint8_t *dst, size_t *took)
{
	size_t plen, th, hl, at, i;
	int tcp;

	plen = join(dg, n, dst, took);
	if (plen == 0) {
		assert(*took == 0);
		return 0;
	}
	assert(*took >= 2 && *took <= n);
	assert(frame_error(dst, plen, plen, 0) == NULL);
	th = ip_tcp(dst, &tcp);
	hl = th + tcp_hlen(dst + th);
	assert(tcp);
	for (i = 0, at = hl; i < *took; i++) {
		assert(dg[i].iov_len > hl && dg[i].iov_len <= dg[0].iov_len);
		assert(i + 1 == *took || dg[i].iov_len == dg[0].iov_len);
		assert(memcmp(dst + at, (uint8_t *)dg[i].iov_base + hl,
		    dg[i].iov_len - hl) == 0);
		at += dg[i].iov_len - hl;
	}
	assert(at == plen);
	hdr_check(dst, plen, dg[0].iov_len, 1);
	return plen;
}

/*
 * The bytes ${p} as a run of datagrams read at once, ${seg} bytes each but
 * maybe the last: joined, or not, and left as they were.
 */
static void
run_check(const uint8_t *p, size_t len, size_t seg)
{
	struct iovec *dg;
	uint8_t *copy, *dst;
	size_t n, i, took;

	if (len == 0 || seg == 0)
		return;
	n = (len + seg - 1) / seg;
	dg = mem_alloc(n * sizeof(*dg));
	copy = mem_dup(p, len);
	dst = mem_alloc(FRAME_MAX);
	for (i = 0; i < n; i++) {
		dg[i].iov_base = copy + i * seg;
		dg[i].iov_len = len - i * seg < seg ? len - i * seg : seg;
	}
	join_check(dg, n, dst, &took);
	assert(memcmp(copy, p, len) == 0);
	free(dst);
	free(copy);
	free(dg);
}

/*
 * seg_check(p, hl, th, q, qlen, i, off, last): the segment ${q}
 * offload_cut() cut as the ${i}th from the super-packet ${p}: its ${off}th
 * payload bytes, the sequence number that says so, IPv4 ID + i, PSH and
 * FIN on the last segment only, CWR on the first only, and checksums right
 * by the byte-wise sum.
 */
static void
seg_check(const uint8_t *p, size_t hl, size_t th, const uint8_t *q,
    size_t qlen, size_t i, size_t off, int last)
{
	uint32_t seq0, seq;
	uint8_t f = p[th + TCP_FLAGS_OFF];

	assert(frame_error(q, qlen, qlen, 0) == NULL && qlen > hl);
	assert(qlen >= OFFLOAD_SEG_MIN);
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
 * The run ${dg}, laid end to end as UDP_GRO gives it and given to the
 * device as dgram_read() gives it, counts as the ${n} packets and
 * ${at} bytes the far end sent, joined or not.
 */
static void
run_counts(const struct iovec *dg, size_t n, size_t mtu)
{
	struct mode m = { 0, 1, mtu };
	struct vpn w;
	size_t at, i;

	vpn_new(&w, &m, FRAME_MAX + 1);
	for (i = 0, at = 0; i < n; i++) {
		memcpy(w.in.p + at, dg[i].iov_base, dg[i].iov_len);
		at += dg[i].iov_len;
	}
	gro_to_tun(&w, w.in.p, at, dg[0].iov_len);
	assert(w.st.rx_packets == n && w.st.rx_bytes == at);
	assert(w.st.rx_dropped == 0 && w.st.rx_invalid == 0);
	vpn_free(&w);
}

/*
 * change_check(dg, n, th, i, how): change segment ${i} of ${dg} so that it
 * may not join, as ${how} picks: one bit flipped anywhere, or, its
 * checksum made right again, another source port, a sequence number one
 * off, FIN, or (IPv6, under no checksum) another hop limit.  Then
 * offload_join() joins nothing from segment ${i} on.
 */
static void
change_check(const struct iovec *dg, size_t n, size_t th, size_t i,
    size_t how)
{
	struct iovec *mut;
	uint8_t *q, *dst;
	size_t len = dg[i].iov_len, took;

	mut = mem_alloc(n * sizeof(*mut));
	memcpy(mut, dg, n * sizeof(*mut));
	q = mut[i].iov_base = mem_dup(dg[i].iov_base, len);
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
	dst = mem_alloc(FRAME_MAX);
	if (join(mut, n, dst, &took) > 0)
		assert(i > 0 && took <= i);
	free(dst);
	free(q);
	free(mut);
}

/*
 * cut_room_check(p, len, h, gap, need, n): offload_cut() of ${p} needs
 * ${need} bytes and ${n} lengths: with a byte or a length less it finds no
 * room, and writes nothing.
 */
static void
cut_room_check(const uint8_t *p, size_t len, const struct virtio_net_hdr *h,
    size_t gap, size_t need, size_t n)
{
	uint8_t *dst = mem_alloc(need);
	size_t *lens = mem_alloc(n * sizeof(*lens));

	memset(dst, UNTOUCHED, need);
	assert(offload_cut(p, len, h, dst, need - 1, gap, lens, n) ==
	    OFFLOAD_NOROOM);
	assert(offload_cut(p, len, h, dst, need, gap, lens, n - 1) ==
	    OFFLOAD_NOROOM);
	assert(untouched(dst, need));
	free(lens);
	free(dst);
}

/*
 * The TCP segments joined back into ${p}, but for the TCP checksum, which
 * the device is told to fill in, and the IPv4 one, which it makes again.
 */
static void
round_trip(const struct iovec *dg, size_t n, const uint8_t *p, size_t len,
    size_t th)
{
	uint8_t *dst = mem_alloc(FRAME_MAX);
	size_t took;

	assert(join_check(dg, n, dst, &took) == len && took == n);
	memcpy(dst + th + TCP_CSUM_OFF, p + th + TCP_CSUM_OFF,
	    sizeof(uint16_t));
	if (p[0] >> 4 == 4) {
		assert(sum_be(0, dst, th) == 0xffff);
		memcpy(dst + IP4_CSUM_OFF, p + IP4_CSUM_OFF, sizeof(uint16_t));
	}
	assert(memcmp(dst, p, len) == 0);
	free(dst);
}

/*
 * Whatever partial sum the super-packet ${p} carries in its TCP checksum
 * (a pseudo-header's, its destination maybe not the IP header's: a
 * routing header's last), each of the ${n} segments offload_cut() cuts it
 * in has the checksum right for the same pseudo-header with its own
 * length, by the byte-wise sum: as the kernel cuts one.
 */
static void
seed_check(const uint8_t *p, size_t len, const struct virtio_net_hdr *h,
    size_t n, size_t need)
{
	size_t th = h->csum_start, *lens, i;
	uint32_t seed = (uint32_t)(p[th + TCP_CSUM_OFF] << 8 |
	    p[th + TCP_CSUM_OFF + 1]);
	uint8_t *dst, *q;

	dst = mem_alloc(need);
	lens = mem_alloc(n * sizeof(*lens));
	assert(offload_cut(p, len, h, dst, need, 0, lens, n) == (int)n);
	for (i = 0, q = dst; i < n; q += lens[i++])
		assert(sum_be(seed + (0xffff - (uint32_t)(len - th)) +
		    (uint32_t)(lens[i] - th), q + th, lens[i] - th) == 0xffff);
	free(lens);
	free(dst);
}

/*
 * offload_cut() cuts a TCP super-packet into whole packets of the MTU,
 * every checksum right, each after the gap asked for, that offload_join()
 * joins back into the packet it was, from wherever they are.
 */
static void
cut_check(const uint8_t *p, size_t len, size_t mtu)
{
	struct virtio_net_hdr h;
	struct iovec *dg;
	uint8_t *dst, *partial, *orig, *q, f;
	size_t th, hl, mss, n, need, gap = len % (GAP_MAX + 1), *lens, off, i;
	int tcp;

	if (len < IP4_HLEN || (th = ip_tcp(p, &tcp), !tcp) ||
	    th + TCP_HLEN > len)
		return;
	hl = th + tcp_hlen(p + th);
	if (hl >= len || hl < th + TCP_HLEN || mtu <= hl)
		return;
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = p[0] >> 4 == 6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
	    VIRTIO_NET_HDR_GSO_TCPV4;
	h.csum_start = (uint16_t)th;
	h.csum_offset = TCP_CSUM_OFF;
	h.gso_size = (uint16_t)(mss = mtu - hl);
	n = (len - hl + mss - 1) / mss;
	need = len - hl + n * (gap + hl);
	cut_room_check(p, len, &h, gap, need, n);
	seed_check(p, len, &h, n, len - hl + n * hl);

	dst = mem_alloc(need);
	memset(dst, UNTOUCHED, need);
	lens = mem_alloc(n * sizeof(*lens));
	dg = mem_alloc(n * sizeof(*dg));
	partial = mem_dup(p, len);
	tcp_partial(partial, len, th);
	orig = mem_dup(partial, len);
	assert(offload_cut(orig, len, &h, dst, need, gap, lens, n) == (int)n);
	assert(memcmp(orig, partial, len) == 0);
	for (i = off = 0, q = dst; i < n; i++) {
		assert(untouched(q, gap));
		dg[i].iov_base = q + gap;
		dg[i].iov_len = lens[i];
		assert(lens[i] <= mtu && lens[i] <= lens[0]);
		seg_check(p, hl, th, q + gap, lens[i], i, off, i + 1 == n);
		off += lens[i] - hl;
		q += gap + lens[i];
	}
	assert(off == len - hl && q == dst + need);
	run_counts(dg, n, mtu);
	f = p[th + TCP_FLAGS_OFF] & (uint8_t)~(TCP_CWR | TCP_PSH);
	if (n > 1 && f == TCP_ACK && (p[0] >> 4 == 6 || th == IP4_HLEN)) {
		change_check(dg, n, th, p[len - 1] % n,
		    (size_t)p[len - 2] << 8 | p[len - 3]);
		round_trip(dg, n, p, len, th);
	}
	free(dst);
	free(orig);
	free(partial);
	free(dg);
	free(lens);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + IN_HDR;
	size_t len, mtu;

	if (size < IN_HDR)
		return 0;
	mtu = mtu_pick(data[0]);
	len = size - IN_HDR;

	csum_check(p, len);
	csum_complete_check(p, len);
	cut_any_check(p, len);
	hdr_check(p, len, mtu, 0);
	if (len <= FRAME_MAX && frame_error(p, len, len, 0) == NULL)
		cut_check(p, len, mtu);
	run_check(p, len, mtu);
	return 0;
}
