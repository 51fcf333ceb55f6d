// SPDX-License-Identifier: MIT
/*
 * tests/fuzz.h - what the two libFuzzer targets share.  vpn.c and offload.c
 * are included whole (wireguard's pattern), so what is fuzzed is the code
 * that runs, on a struct vpn whose device is /dev/null.
 */

#include "../offload.c"
#define main vpn_main
int	vpn_main(int, char *[]);
#include "../vpn.c"
#undef main

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
	v->tap = m->tap;
	v->vnet = !m->tap;	/* as main() has it */
	v->offload = m->offload;
	v->mtu = m->mtu;	/* read at now_ms 0: never read again */
	memcpy(v->ifname, "fuzz0", sizeof("fuzz0"));
	buf_init(&v->in, cap);
	if (m->offload)
		v->joined = mem_alloc(FRAME_MAX);
}

static void
vpn_free(struct vpn *v)
{
	free(v->in.p);
	free(v->joined);
}

/* The MTU the input byte ${b} picks: MTU_MIN + MTU_STEP * (0 to 63). */
static size_t
mtu_pick(uint8_t b)
{
	return MTU_MIN + MTU_STEP * (size_t)(b >> 2);
}
