// SPDX-License-Identifier: MIT
/*
 * sandbox.c - what vpn gives up once the device is open: root, for -u's
 * user (sandbox_drop), and every system call the loop does not make (a
 * seccomp filter).  docs/security.md says what is left to a peer who found
 * a way to run code in vpn; tests/46 and tests/54 check both.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpn.h"

/* -- privileges */

/* Look -u's user up before anything changes: a typo must leave no trace. */
struct passwd *
user_lookup(const char *user)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno)
			err(1, "getpwnam %s", user);
		errx(1, "-u: no such user: '%s'", user);
	}
	return pw;
}

void
sandbox_drop(const struct passwd *pw)
{
	const char *user = pw->pw_name;

	if (initgroups(pw->pw_name, pw->pw_gid) == -1)
		err(1, "initgroups %s", user);
	if (setgid(pw->pw_gid) == -1)
		err(1, "setgid %u", (unsigned)pw->pw_gid);
	if (setuid(pw->pw_uid) == -1)
		err(1, "setuid %u", (unsigned)pw->pw_uid);
	if (pw->pw_uid != 0 && setuid(0) != -1)
		errx(1, "-u %s: still able to become root", user);
}

/* -- the system call filter */

#if defined(__x86_64__)
#define SC_ARCH		AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SC_ARCH		AUDIT_ARCH_AARCH64
#endif
#define SC_LOAD(f)	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, \
			    offsetof(struct seccomp_data, f))
#define SC_RET(r)	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ ## r)
/* If the loaded word is ${k}, allow; else go on to the next test. */
#define SC_ALLOW(k)	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), 0, 1), \
			SC_RET(ALLOW)

/*
 * sandbox_enter(): from here on, the kernel kills us at any system call
 * but those the loop makes, and at the end: a peer who found a way to run
 * code in us can still read and write our descriptors (the device, the
 * stream, the counters file) and no more: no file to open, no socket to
 * make, no program to run, no executable memory.  Where there is no filter
 * to give (another architecture; a sanitized build, or valgrind, whose
 * runtime makes calls of its own), nothing changes.
 */
void
sandbox_enter(void)
{
#if defined(SC_ARCH) && !defined(__SANITIZE_ADDRESS__)
	const char *preload = getenv("LD_PRELOAD");
	struct sock_filter f[] = {
		SC_LOAD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SC_ARCH, 1, 0),
		SC_RET(KILL_PROCESS),
		SC_LOAD(nr),
		/* ioctl: the device's name and MTU (tun_mtu), nothing else */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5),
		SC_LOAD(args[1]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TUNGETIFF, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIOCGIFMTU, 1, 0),
		SC_RET(KILL_PROCESS),
		SC_RET(ALLOW),
		/* mmap (malloc, at the end): never executable */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 4),
		SC_LOAD(args[2]),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 1, 0),
		SC_RET(ALLOW),
		SC_RET(KILL_PROCESS),
		/*
		 * setsockopt: stdout's own queue (held_set() in queue.c), its
		 * TCP_NOTSENT_LOWAT or SO_SNDBUF; nothing else.
		 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 9),
		SC_LOAD(args[1]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 2),
		SC_LOAD(args[2]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TCP_NOTSENT_LOWAT, 3, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3),
		SC_LOAD(args[2]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_SNDBUF, 0, 1),
		SC_RET(ALLOW),
		SC_RET(KILL_PROCESS),
		/*
		 * fcntl: a pipe's size (held_set()), the flags put back
		 * (fl_restore(), at exit); not F_SETOWN, F_SETSIG, locks...
		 */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 0, 5),
		SC_LOAD(args[1]),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETFL, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETPIPE_SZ, 1, 0),
		SC_RET(KILL_PROCESS),
		SC_RET(ALLOW),
		SC_ALLOW(__NR_read), SC_ALLOW(__NR_readv),
		SC_ALLOW(__NR_write), SC_ALLOW(__NR_writev),
		SC_ALLOW(__NR_recvmsg), SC_ALLOW(__NR_sendmsg),
		SC_ALLOW(__NR_ppoll), SC_ALLOW(__NR_clock_gettime),
		SC_ALLOW(__NR_getsockopt),	/* SO_ERROR, SO_DOMAIN, IP_MTU */
		SC_ALLOW(__NR_pwrite64), SC_ALLOW(__NR_ftruncate),	/* -s */
		SC_ALLOW(__NR_rt_sigreturn), SC_ALLOW(__NR_restart_syscall),
		SC_ALLOW(__NR_brk), SC_ALLOW(__NR_munmap),	/* free() */
		SC_ALLOW(__NR_close), SC_ALLOW(__NR_exit_group),
		SC_ALLOW(__NR_exit),
		SC_RET(KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};

	if (preload && strstr(preload, "vgpreload"))	/* valgrind's */
		return;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		err(1, "prctl PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		err(1, "prctl PR_SET_SECCOMP");
#endif
}
