// SPDX-License-Identifier: MIT
/*
 * offload.c - TCP segmentation and receive offloads for vpn.c: pure
 * functions over the caller's buffers, no I/O and no state.
 *
 * In TUN mode the device hands us TCP super-packets of up to 64 KiB, and
 * takes them back whole, each behind a struct virtio_net_hdr: one read()
 * and one write() move what would otherwise take forty.  On the wire every
 * packet fits the MTU, so that any peer can take it: offload_cut() cuts
 * them into the packets the kernel would have sent, and at the far end
 * offload_join() joins a run of those again.  Whatever its own -O, the
 * receiving vpn rebuilds the header that lets its kernel split a long
 * packet again where a next hop needs it (offload_hdr()), so a forwarded
 * super-packet is never dropped for its size.
 */

#include <sys/uio.h>

#include <linux/virtio_net.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>		/* AVX2, for the checksum */
#endif

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "offload.h"

#define IP_LEN_MAX	0xffff		/* the most IPv4's total length says */
#define IP4_HLEN_MAX	60		/* IHL is 4 bits of 32-bit words */
#define IP4_ID_OFF	4		/* IPv4 identification */
#define IP4_CSUM_OFF	10		/* IPv4 header checksum */
#define TCP_HLEN	20		/* TCP header without options */
#define TCP_HLEN_MAX	60		/* so is TCP's data offset */
#define TCP_SEQ_OFF	4		/* sequence number's offset */
#define TCP_DOFF_OFF	12		/* header words, in the high nibble */
#define TCP_FLAGS_OFF	13		/* flags' offset in the TCP header */
#define TCP_CSUM_OFF	16		/* checksum's place in the TCP header */
#define TCP_CWR		0x80		/* congestion window reduced (ECN) */
#define TCP_ACK		0x10		/* acknowledgment number valid */
#define TCP_PSH		0x08		/* push: the sender has no more now */
#define TCP_FIN		0x01		/* the sender's last byte */

/* -- checksums */

/*
 * Add ${p}[0..${len}) to a one's complement sum, in memory order.  It runs
 * over every byte a super-packet carries, so it takes 8 bytes a step into
 * two sums (independent adds): 2^64 is 1 modulo 0xffff, so a carry out of
 * a sum counts 1, and so do the two halves of a sum.
 */
static uint64_t
csum_add_scalar(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t w, a = 0, b = 0, carries = 0;
	uint32_t w32;
	uint16_t w16 = 0;

	for (; len >= 2 * sizeof(w); p += 2 * sizeof(w), len -= 2 * sizeof(w)) {
		memcpy(&w, p, sizeof(w));
		a += w;
		carries += a < w;
		memcpy(&w, p + sizeof(w), sizeof(w));
		b += w;
		carries += b < w;
	}
	sum += (a & UINT32_MAX) + (a >> 32) + (b & UINT32_MAX) + (b >> 32) +
	    carries;
	for (; len >= sizeof(w32); p += sizeof(w32), len -= sizeof(w32)) {
		memcpy(&w32, p, sizeof(w32));
		sum += w32;
	}
	if (len >= sizeof(w16)) {
		memcpy(&w16, p, sizeof(w16));
		sum += w16;
		p += sizeof(w16);
		len -= sizeof(w16);
	}
	if (len) {
		w16 = 0;
		memcpy(&w16, p, 1);
		sum += w16;
	}
	return sum;
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * The sending vpn is the busiest process of a tunnel, and this sum is its
 * one pass over the data in user space: with AVX2 it takes 64 bytes a
 * step, each 32-bit word into a 64-bit lane (a frame's 16 Ki words cannot
 * fill one), about 2.8 us a 64 KiB super-packet against 7.8 us.
 */
#define CSUM_VEC	64		/* bytes a vector step */

__attribute__((target("avx2"))) static uint64_t
csum_add_avx2(uint64_t sum, const uint8_t *p, size_t len)
{
	const __m256i zero = _mm256_setzero_si256();
	__m256i lo = zero, hi = zero, x, y;
	uint64_t lane[4];

	for (; len >= CSUM_VEC; p += CSUM_VEC, len -= CSUM_VEC) {
		x = _mm256_loadu_si256((const void *)p);
		y = _mm256_loadu_si256((const void *)(p + CSUM_VEC / 2));
		lo = _mm256_add_epi64(lo, _mm256_unpacklo_epi32(x, zero));
		hi = _mm256_add_epi64(hi, _mm256_unpackhi_epi32(x, zero));
		lo = _mm256_add_epi64(lo, _mm256_unpacklo_epi32(y, zero));
		hi = _mm256_add_epi64(hi, _mm256_unpackhi_epi32(y, zero));
	}
	_mm256_storeu_si256((void *)lane, _mm256_add_epi64(lo, hi));
	return sum + lane[0] + lane[1] + lane[2] + lane[3];
}
#endif

/* csum_add_scalar(), with whole vector steps first where the CPU has them. */
static uint64_t
csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
#ifdef CSUM_VEC
	size_t n = len - len % CSUM_VEC;	/* even: words stay in step */

	if (n > 0 && __builtin_cpu_supports("avx2")) {
		sum = csum_add_avx2(sum, p, n);
		p += n;
		len -= n;
	}
#endif
	return csum_add_scalar(sum, p, len);
}

static uint16_t
csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Does the partial checksum ${h} describes lie inside ${len} bytes? */
static int
csum_inside(size_t len, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;

	return start < len && at + sizeof(uint16_t) <= len;
}

/*
 * offload_csum(pkt, len, h): complete the checksum the kernel left partial
 * in ${pkt}, as ${h} describes.  Returns 0 if ${h} points outside the
 * packet.
 */
int
offload_csum(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;
	uint16_t sum;

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 1;
	if (!csum_inside(len, h))
		return 0;
	sum = (uint16_t)~csum_fold(csum_add(0, pkt + start, len - start));
	if (sum == 0)
		sum = 0xffff;	/* UDP's "no checksum" is 0; TCP reads both */
	memcpy(pkt + at, &sum, sizeof(sum));
	return 1;
}

/* -- IP and TCP headers */

/* The length of the IPv4 header ${p}, as its IHL says. */
static size_t
ip4_hlen(const uint8_t *p)
{
	return (size_t)(p[0] & 0xf) * 4;
}

/* Is ${p} one whole IP packet of ${len} bytes, as its header says? */
static int
ip_whole(const uint8_t *p, size_t len)
{
	if (len < IP4_HLEN)
		return 0;
	switch (ip_version(p)) {
	case 4:
		return ip4_hlen(p) >= IP4_HLEN && ip4_hlen(p) <= len &&
		    be16(p + IP4_LEN_OFF) == len;
	case 6:
		return len >= IP6_HLEN &&
		    IP6_HLEN + be16(p + IP6_LEN_OFF) == len;
	}
	return 0;
}

/* The IP header's length, and whether it carries TCP, not in fragments. */
static size_t
ip_tcp(const uint8_t *pkt, int *tcp)
{
	if (ip_version(pkt) == 6) {
		*tcp = pkt[IP6_NEXT_OFF] == IPPROTO_TCP;
		return IP6_HLEN;
	}
	*tcp = pkt[IP4_PROTO_OFF] == IPPROTO_TCP &&
	    !(be16(pkt + IP4_FRAG_OFF) & IP4_FRAG_MASK);
	return ip4_hlen(pkt);
}

/*
 * ip_set_len(p, iphl, len): make ${len} the length of the IP packet ${p},
 * whose headers take ${iphl} bytes: in its header, and so in IPv4's
 * header checksum.
 */
static void
ip_set_len(uint8_t *p, size_t iphl, size_t len)
{
	uint16_t word;

	if (ip_version(p) == 6) {
		put16(p + IP6_LEN_OFF, len - IP6_HLEN);
		return;
	}
	put16(p + IP4_LEN_OFF, len);
	memset(p + IP4_CSUM_OFF, 0, sizeof(word));
	word = (uint16_t)~csum_fold(csum_add(0, p, iphl));
	memcpy(p + IP4_CSUM_OFF, &word, sizeof(word));
}

/* The length of the TCP header at ${tcp}, as its data offset says. */
static size_t
tcp_hlen(const uint8_t *tcp)
{
	return (size_t)(tcp[TCP_DOFF_OFF] >> 4) * 4;
}

/* The TCP pseudo-header's sum: addresses, protocol, TCP length. */
static uint64_t
tcp_pseudo(const uint8_t *pkt, size_t tcplen)
{
	uint64_t sum;
	uint16_t word;

	if (ip_version(pkt) == 6)
		sum = csum_add(0, pkt + IP6_ADDRS_OFF, IP6_ADDRS_LEN);
	else
		sum = csum_add(0, pkt + IP4_ADDRS_OFF, IP4_ADDRS_LEN);
	word = htons(IPPROTO_TCP);
	sum += word;
	word = htons((uint16_t)tcplen);
	return sum + word;
}

/* Is the TCP packet ${p} of ${len} bytes, its TCP header at ${th}, intact? */
static int
tcp_csum_ok(const uint8_t *p, size_t len, size_t th)
{
	if (ip_version(p) == 4 && csum_fold(csum_add(0, p, th)) != 0xffff)
		return 0;
	return csum_fold(csum_add(tcp_pseudo(p, len - th), p + th,
	    len - th)) == 0xffff;
}

/*
 * offload_hdr(pkt, len, mtu, joined, h): the header under which the device
 * takes ${pkt}.  A TCP packet longer than ${mtu} becomes a super-packet the
 * kernel may split into segments that fit: its checksum is made partial
 * again, as the kernel wants it, and the kernel checks it no more, so it is
 * checked here first, unless the packet is ${joined}: offload_join()'s,
 * whose every segment was checked.  Anything else goes as it is, for the
 * kernel to check.  Returns 0 for a packet the device must not be given:
 * one that is not a whole IP packet (vpn.c's frame check refuses those
 * first), or a super-packet whose checksums are wrong.
 */
int
offload_hdr(uint8_t *pkt, size_t len, size_t mtu, int joined,
    struct virtio_net_hdr *h)
{
	size_t iphl, thl;
	uint16_t word;
	int tcp;

	memset(h, 0, sizeof(*h));
	if (!ip_whole(pkt, len))
		return 0;
	if (len <= mtu)
		return 1;
	iphl = ip_tcp(pkt, &tcp);
	if (!tcp || len < iphl + TCP_HLEN)
		return 1;
	thl = tcp_hlen(pkt + iphl);
	if (thl < TCP_HLEN || len < iphl + thl || mtu <= iphl + thl)
		return 1;
	if (!joined && !tcp_csum_ok(pkt, len, iphl))
		return 0;

	word = csum_fold(tcp_pseudo(pkt, len - iphl));
	memcpy(pkt + iphl + TCP_CSUM_OFF, &word, sizeof(word));

	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = ip_version(pkt) == 6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
	    VIRTIO_NET_HDR_GSO_TCPV4;
	if (pkt[iphl + TCP_FLAGS_OFF] & TCP_CWR)
		h->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	h->hdr_len = (uint16_t)(iphl + thl);
	h->gso_size = (uint16_t)(mtu - iphl - thl);
	h->csum_start = (uint16_t)iphl;
	h->csum_offset = TCP_CSUM_OFF;
	return 1;
}

/* -- cutting */

/*
 * offload_whole(pkt, len, h): may the packet ${pkt} from the device, with
 * the header ${h}, cross a stream whole: will offload_hdr() at the far end
 * have its kernel cut it again?  Not an IPv6 super-packet whose TCP header
 * follows extension headers: that one offload_cut() must cut.
 */
int
offload_whole(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h)
{
	return h->gso_type == VIRTIO_NET_HDR_GSO_NONE || len < IP6_HLEN ||
	    ip_version(pkt) != 6 || pkt[IP6_NEXT_OFF] == IPPROTO_TCP;
}

/*
 * Cutting a super-packet, as the kernel's own segmentation does: each
 * segment's TCP checksum starts from the partial one the kernel left in
 * the super-packet (the pseudo-header's sum, its length the whole TCP
 * length), adjusted for the segment's length.  The pseudo-header's
 * destination is the final one, which is not the IPv6 header's when a
 * routing header follows it (RFC 8200, 8.1): only the kernel knows it.
 * And checksums are summed from the super-packet, never from the segment
 * just written: a load of bytes still in the CPU's store buffer, written
 * by wider or narrower stores, waits for the buffer to drain.
 */
struct cut {
	const uint8_t	*p;		/* the super-packet */
	size_t		 len;		/* its length */
	size_t		 th;		/* its TCP header's offset */
	size_t		 hl;		/* its headers' length */
	uint64_t	 ip_sum;	/* IPv4 header, less what cut_seg() sets */
	uint64_t	 tcp_sum;	/* TCP header and partial sum, the same */
};

/*
 * The 16-bit word whose bytes are ${v}'s low 16 bits in network order,
 * as csum_add() reads one from memory.
 */
static uint64_t
wire16(size_t v)
{
	return htons((uint16_t)v);
}

/* What takes the 16-bit value ${v} out of a one's complement sum. */
static uint64_t
csum_less(size_t v)
{
	return (uint16_t)~wire16(v);
}

/*
 * cut_init(c, p, len, th, hl): sum the headers of the super-packet ${p},
 * the partial checksum in its place, without what differs from one
 * segment to the next.
 */
static void
cut_init(struct cut *c, const uint8_t *p, size_t len, size_t th, size_t hl)
{
	const uint8_t *t = p + th;

	c->p = p;
	c->len = len;
	c->th = th;
	c->hl = hl;
	c->ip_sum = 0;
	if (ip_version(p) == 4)
		c->ip_sum = csum_add(0, p, th) +
		    csum_less(be16(p + IP4_LEN_OFF)) +
		    csum_less(be16(p + IP4_ID_OFF)) +
		    csum_less(be16(p + IP4_CSUM_OFF));
	c->tcp_sum = csum_add(0, t, hl - th) + csum_less(len - th) +
	    csum_less(be16(t + TCP_SEQ_OFF)) +
	    csum_less(be16(t + TCP_SEQ_OFF + 2)) +
	    csum_less(be16(t + TCP_DOFF_OFF));
}

/*
 * cut_seg(c, q, i, off, plen): write to ${q} the super-packet's segment
 * ${i}, which carries ${plen} bytes from ${off} into its payload, as the
 * kernel's own segmentation would: IPv4 ID + i, the sequence number that
 * says ${off}, CWR on the first only, PSH and FIN on the last only, every
 * checksum complete.
 */
static void
cut_seg(const struct cut *c, uint8_t *q, size_t i, size_t off, size_t plen)
{
	const uint8_t *p = c->p, *t = p + c->th;
	uint64_t sum = csum_add(0, p + c->hl + off, plen);
	uint32_t seq = (uint32_t)(be16(t + TCP_SEQ_OFF) << 16 |
	    be16(t + TCP_SEQ_OFF + 2)) + (uint32_t)off;
	size_t id = be16(p + IP4_ID_OFF) + i;
	uint8_t flags = t[TCP_FLAGS_OFF];
	uint16_t word;

	memcpy(q, p, c->hl);
	memcpy(q + c->hl, p + c->hl + off, plen);
	if (ip_version(p) == 6)
		put16(q + IP6_LEN_OFF, c->hl + plen - IP6_HLEN);
	else {
		put16(q + IP4_LEN_OFF, c->hl + plen);
		put16(q + IP4_ID_OFF, id);
		word = (uint16_t)~csum_fold(c->ip_sum + wire16(c->hl + plen) +
		    wire16(id));
		memcpy(q + IP4_CSUM_OFF, &word, sizeof(word));
	}
	if (i > 0)
		flags &= (uint8_t)~TCP_CWR;
	if (off + plen < c->len - c->hl)
		flags &= (uint8_t)~(TCP_PSH | TCP_FIN);
	put16(q + c->th + TCP_SEQ_OFF, seq >> 16);
	put16(q + c->th + TCP_SEQ_OFF + 2, seq);
	q[c->th + TCP_FLAGS_OFF] = flags;
	sum += c->tcp_sum + wire16(c->hl - c->th + plen) + wire16(seq >> 16) +
	    wire16(seq) + wire16((size_t)t[TCP_DOFF_OFF] << 8 | flags);
	word = (uint16_t)~csum_fold(sum);
	memcpy(q + c->th + TCP_CSUM_OFF, &word, sizeof(word));
}

/*
 * The length of the headers of the TCP super-packet ${p} that ${h}
 * describes, the TCP header at h->csum_start, its checksum partial (as the
 * kernel leaves those it builds or joins), or 0 if ${h} makes no sense for
 * ${p}, or says nothing of its checksum (one forwarded from a guest's
 * virtio device with DATA_VALID: refused before, as now).
 */
static size_t
tcp_gso_hlen(const uint8_t *p, size_t len, const struct virtio_net_hdr *h)
{
	size_t th = h->csum_start, hl;
	int type = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN, tcp, ok;

	if (len < IP6_HLEN || len > IP_LEN_MAX)
		return 0;
	if (ip_version(p) == 6)
		ok = type == VIRTIO_NET_HDR_GSO_TCPV6 && th >= IP6_HLEN;
	else
		ok = type == VIRTIO_NET_HDR_GSO_TCPV4 &&
		    th == ip_tcp(p, &tcp) && tcp && th >= IP4_HLEN;
	if (!ok || th + TCP_HLEN > len ||
	    !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    h->csum_offset != TCP_CSUM_OFF)
		return 0;
	hl = th + tcp_hlen(p + th);
	if (hl < th + TCP_HLEN || hl >= len || h->gso_size == 0)
		return 0;
	return hl;
}

/* offload_cut() for a packet that needs no cutting: its checksum, done. */
static int
cut_none(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h,
    uint8_t *dst, size_t room, size_t gap, size_t *lens, size_t nlens)
{
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && !csum_inside(len, h))
		return OFFLOAD_INVALID;
	if (gap + len > room || nlens < 1)
		return OFFLOAD_NOROOM;
	memcpy(dst + gap, pkt, len);
	(void)offload_csum(dst + gap, len, h);	/* inside: checked above */
	lens[0] = len;
	return 1;
}

/*
 * offload_cut(pkt, len, h, dst, room, gap, lens, nlens): the packets a
 * wire of the MTU carries for ${pkt}, which the device gave us with the
 * header ${h}: a TCP super-packet cut as the kernel would have cut it
 * without offloads, h->gso_size bytes of payload each, every checksum
 * complete; anything else whole, its checksum completed.  They go end to
 * end into the ${room} bytes at ${dst}, each after ${gap} bytes left to
 * the caller, their lengths into ${lens}, which has room for ${nlens}.
 * Returns how many, or, with nothing written, OFFLOAD_INVALID if ${h}
 * makes no sense for ${pkt}, OFFLOAD_NOROOM if they do not fit.
 */
int
offload_cut(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h,
    uint8_t *dst, size_t room, size_t gap, size_t *lens, size_t nlens)
{
	size_t th = h->csum_start, hl, mss = h->gso_size, off, plen, n, i;
	struct cut c;
	uint8_t *q;

	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return cut_none(pkt, len, h, dst, room, gap, lens, nlens);
	if ((hl = tcp_gso_hlen(pkt, len, h)) == 0)
		return OFFLOAD_INVALID;
	n = (len - hl + mss - 1) / mss;
	if (len - hl + n * (gap + hl) > room || n > nlens)
		return OFFLOAD_NOROOM;
	cut_init(&c, pkt, len, th, hl);
	for (off = i = 0; off < len - hl; off += plen, i++) {
		plen = len - hl - off < mss ? len - hl - off : mss;
		q = dst + gap;
		cut_seg(&c, q, i, off, plen);
		lens[i] = hl + plen;
		dst = q + hl + plen;
	}
	return (int)n;
}

/* -- joining */

/*
 * Joining TCP segments: a run of frames read at once from a stream, or of
 * datagrams (UDP_GRO), holds, in bulk transfers, the segments one
 * super-packet was cut into.  Given to the device as one packet again,
 * they cross the stack above it once.
 */

/* Zero the header fields that change from one TCP segment to the next. */
static void
tcp_hdr_blank(uint8_t *h, size_t th)
{
	if (ip_version(h) == 6)
		memset(h + IP6_LEN_OFF, 0, sizeof(uint16_t));
	else {
		memset(h + IP4_LEN_OFF, 0, sizeof(uint16_t));
		memset(h + IP4_ID_OFF, 0, sizeof(uint16_t));
		memset(h + IP4_CSUM_OFF, 0, sizeof(uint16_t));
	}
	memset(h + th + TCP_SEQ_OFF, 0, sizeof(uint32_t));
	h[th + TCP_FLAGS_OFF] = 0;
	memset(h + th + TCP_CSUM_OFF, 0, sizeof(uint16_t));
}

/*
 * tcp_can_start(p, len, &th, &hl): may the packet ${p} start a join: a
 * whole TCP segment with payload and an ACK alone (maybe CWR), in IPv4
 * without options, as the kernel's GRO wants, or IPv6 without extension
 * headers?  The TCP header's offset goes to ${th}, the headers' length to
 * ${hl}.  Checksums are left to the caller: they cost the most.
 */
static int
tcp_can_start(const uint8_t *p, size_t len, size_t *th, size_t *hl)
{
	int tcp;

	if (!ip_whole(p, len))
		return 0;
	*th = ip_tcp(p, &tcp);
	if (!tcp || *th + TCP_HLEN >= len ||
	    (ip_version(p) == 4 && *th != IP4_HLEN))
		return 0;
	*hl = *th + tcp_hlen(p + *th);
	return *hl >= *th + TCP_HLEN && *hl < len &&
	    (p[*th + TCP_FLAGS_OFF] & ~TCP_CWR) == TCP_ACK;
}

/*
 * tcp_follows(p, q, qlen, th, hl, seq): do the headers of the packet ${q},
 * of which ${qlen} bytes are there, say it follows ${p}, whose checks
 * tcp_can_start() passed: the same stream and headers, the sequence number
 * ${seq} (network order), an ACK alone or with PSH?
 */
static int
tcp_follows(const uint8_t *p, const uint8_t *q, size_t qlen, size_t th,
    size_t hl, uint32_t seq)
{
	uint8_t a[OFFLOAD_HDR_MAX], b[sizeof(a)];

	if (qlen < hl || q[0] != p[0] || tcp_hlen(q + th) != hl - th ||
	    memcmp(q + th + TCP_SEQ_OFF, &seq, sizeof(seq)) ||
	    (q[th + TCP_FLAGS_OFF] & ~TCP_PSH) != TCP_ACK)
		return 0;
	memcpy(a, p, hl);
	memcpy(b, q, hl);
	tcp_hdr_blank(a, th);
	tcp_hdr_blank(b, th);
	return memcmp(a, b, hl) == 0;
}

/*
 * tcp_can_join(p, q, qlen, th, hl, seq): may the packet ${q} follow ${p},
 * whose checks tcp_can_start() passed: the same stream and headers, the
 * sequence number ${seq} (network order), an ACK alone or with PSH, and
 * every checksum right?
 */
static int
tcp_can_join(const uint8_t *p, const uint8_t *q, size_t qlen, size_t th,
    size_t hl, uint32_t seq)
{
	return qlen > hl && ip_whole(q, qlen) &&
	    tcp_follows(p, q, qlen, th, hl, seq) && tcp_csum_ok(q, qlen, th);
}

/*
 * offload_join(seg, n, hdr, &hlen, &took): the packets ${seg}[0..${n}),
 * anywhere in memory, may begin with segments of one TCP stream in order,
 * each as long as the first but maybe the last.  The packet those join
 * into, as the kernel's GRO would join them, is ${hlen} bytes of headers,
 * written to ${hdr} (OFFLOAD_HDR_MAX bytes), then each one's payload in
 * turn, where it is: the device takes it in one writev(), and no payload
 * is copied here.  ${seg} is left as it was.  Returns its length, and how
 * many it took in ${took}; 0 if fewer than two joined.  Its TCP checksum
 * is the first segment's: offload_hdr() has the device fill it in, as for
 * any packet longer than the size given there, here the first segment's
 * length.
 */
size_t
offload_join(const struct iovec *seg, size_t n, uint8_t *hdr, size_t *hlen,
    size_t *took)
{
	const uint8_t *p = seg[0].iov_base, *q;
	size_t len = seg[0].iov_len, th, hl, at, qlen, i;
	uint32_t seq;
	uint8_t psh = 0;
	int last = 0;

	*took = 0;
	if (n < 2 || len > IP_LEN_MAX || !tcp_can_start(p, len, &th, &hl) ||
	    !tcp_csum_ok(p, len, th))
		return 0;
	memcpy(&seq, p + th + TCP_SEQ_OFF, sizeof(seq));
	for (at = len, i = 1; i < n && !last; i++) {
		q = seg[i].iov_base;
		qlen = seg[i].iov_len;
		seq = htonl(ntohl(seq) + (uint32_t)(len - hl));
		if (qlen > len || at + qlen - hl > IP_LEN_MAX ||
		    !tcp_can_join(p, q, qlen, th, hl, seq))
			break;
		psh |= q[th + TCP_FLAGS_OFF] & TCP_PSH;
		at += qlen - hl;
		last = psh || qlen < len;	/* as the kernel's GRO ends one */
	}
	if (i < 2)
		return 0;
	memcpy(hdr, p, hl);
	hdr[th + TCP_FLAGS_OFF] |= psh;
	ip_set_len(hdr, th, at);
	*hlen = hl;
	*took = i;
	return at;
}

/*
 * offload_join_waits(seg, n, q, qlen, qfull): are the packets
 * ${seg}[0..${n}) segments of one TCP stream in order, as offload_join()
 * takes them, none that would end a join (PSH, a short one), and is
 * ${q}, a packet of ${qfull} bytes of which only ${qlen} have come, the
 * next, with room for it in the join?  Then the join is worth the wait for
 * the rest of ${q}: the peer sent it with them.  Headers only: the
 * checksums are offload_join()'s, when the join is made.
 */
int
offload_join_waits(const struct iovec *seg, size_t n, const uint8_t *q,
    size_t qlen, size_t qfull)
{
	const uint8_t *p = seg[0].iov_base, *s;
	size_t len = seg[0].iov_len, th, hl, i;
	uint32_t seq;

	if (n == 0 || len > IP_LEN_MAX || qlen >= qfull || qfull > len ||
	    !tcp_can_start(p, len, &th, &hl))
		return 0;
	memcpy(&seq, p + th + TCP_SEQ_OFF, sizeof(seq));
	for (i = 1; i < n; i++) {
		s = seg[i].iov_base;
		seq = htonl(ntohl(seq) + (uint32_t)(len - hl));
		if (seg[i].iov_len != len || !ip_whole(s, len) ||
		    !tcp_follows(p, s, len, th, hl, seq) ||
		    s[th + TCP_FLAGS_OFF] & TCP_PSH)
			return 0;
	}
	seq = htonl(ntohl(seq) + (uint32_t)(len - hl));
	return tcp_follows(p, q, qlen, th, hl, seq) &&
	    len + (n - 1) * (len - hl) + qfull - hl <= IP_LEN_MAX;
}

/* offload_may_join(p, len): may the packet ${p} of ${len} bytes begin a join? */
int
offload_may_join(const uint8_t *p, size_t len)
{
	size_t th, hl;

	return tcp_can_start(p, len, &th, &hl);
}
