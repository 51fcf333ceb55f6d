// SPDX-License-Identifier: MIT
/*
 * tests/fuzz.h - what the two libFuzzer targets share.  vpn.c and the
 * files it calls are included whole (wireguard's pattern), so what is
 * fuzzed is the code that runs, on a struct vpn whose device is
 * /dev/null, or, while a dev_log is on, a log of what the device is given
 * (writev, TUN mode).
 */

#include "../offload.c"
struct iovec;
static ssize_t	fuzz_writev(int, const struct iovec *, int);
#define main vpn_main
#define writev fuzz_writev
int	vpn_main(int, char *[]);
#include "../vpn.c"
#include "../queue.c"
#include "../dgram.c"
#include "../sandbox.c"
#undef main
#undef writev

#undef NDEBUG			/* the asserts are the test */
#include <assert.h>

#define MTU_MIN		68	/* IPv4's least; an MTU is MTU_MIN + 24 * n */
#define MTU_STEP	24

struct mode {
	int		 tap;		/* -a */
	int		 offload;	/* not -O: TUN only */
	size_t		 mtu;		/* the device's */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A fresh state for mode ${m}, whose in has room for ${cap} bytes. */
static void
vpn_new(struct vpn *v, const struct mode *m, size_t cap)
{
	static int devnull = -1;

	if (devnull == -1 && (devnull = open("/dev/null", O_WRONLY)) == -1)
		err(1, "/dev/null");
	memset(v, 0, sizeof(*v));
	v->tun = devnull;
	v->status_fd = -1;
	v->tap = m->tap;
	v->vnet = !m->tap;	/* as main() has it */
	v->offload = m->offload;
	v->mtu = m->mtu;	/* read at now_ms 0: never read again */
	v->in_rate = WAIT_RATE;	/* a fast link's: runs may wait */
	memcpy(v->ifname, "fuzz0", sizeof("fuzz0"));
	buf_init(&v->in, cap);
}

static void
vpn_free(struct vpn *v)
{
	free(v->in.p);
}

/* The MTU the input byte ${b} picks: MTU_MIN + MTU_STEP * (0 to 63). */
static size_t
mtu_pick(uint8_t b)
{
	return MTU_MIN + MTU_STEP * (size_t)(b >> 2);
}

/*
 * What the device is given while dev_log is on: for each write, the
 * packet's length (a size_t), its virtio header (zeros in TAP mode, which
 * writes the packet alone), the packet; every ${eagain}th write (0: none)
 * refused first with EAGAIN, as a full device would, and not logged.
 */
struct dev_log {
	uint8_t		*p;
	size_t		 len, cap;
	unsigned	 eagain, calls;
};

static struct dev_log	*dev_log;

static void
log_add(struct dev_log *l, const void *p, size_t len)
{
	if (l->len + len > l->cap) {
		l->cap = 2 * (l->len + len);
		if ((l->p = realloc(l->p, l->cap)) == NULL)
			err(1, "realloc");
	}
	memcpy(l->p + l->len, p, len);
	l->len += len;
}

static ssize_t
fuzz_writev(int fd, const struct iovec *iov, int n)
{
	static const struct virtio_net_hdr none;
	struct dev_log *l = dev_log;
	size_t len = 0;
	int i, vnet = n > 1;

	if (l == NULL)
		return writev(fd, iov, n);
	assert(!vnet || iov[0].iov_len == sizeof(none));
	if (l->eagain && ++l->calls % l->eagain == 0) {
		errno = EAGAIN;
		return -1;
	}
	for (i = vnet; i < n; i++)
		len += iov[i].iov_len;
	log_add(l, &len, sizeof(len));
	if (!vnet)
		log_add(l, &none, sizeof(none));
	for (i = 0; i < n; i++)
		log_add(l, iov[i].iov_base, iov[i].iov_len);
	return (ssize_t)(vnet ? sizeof(none) + len : len);
}
