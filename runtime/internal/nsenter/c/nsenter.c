/*
 * nsenter: the one piece of gtu written in C.
 *
 * A Go process is always multi-threaded, and the kernel refuses setns(2)
 * into a user namespace (and into a mount namespace while threads share
 * their fs_struct) for multi-threaded callers. To run a process inside an
 * existing container (gtu exec) something single-threaded must join those
 * namespaces and then exec gtu, whose Go runtime then starts inside them.
 *
 * This is that something. It is a freestanding static program (no libc,
 * raw system calls only) so that it is a few kilobytes, starts in
 * microseconds, and gtu itself stays a pure-Go static binary: a cgo
 * constructor in gtu would make every gtu process pay for libc (measured
 * here: +0.5 ms per start and +2 MiB RSS) for what only exec needs.
 *
 * Usage (argv, all numbers decimal; built by package nsenter, never by hand):
 *   nsenter ERRFD EXEFD NSLIST TASKFDS CGROUP2FD CLONEFLAGS -- ARGV...
 *     ERRFD     where a failure is reported as one line of text;
 *     EXEFD     the sealed gtu image, exec'd with execveat(AT_EMPTY_PATH);
 *     NSLIST    "FLAG:FD,FLAG:FD,..." namespaces to join, in this order;
 *               a user namespace among them is joined last, by the child;
 *               with CLONEFLAGS -1 a user namespace listed first is joined
 *               first, by us (an unprivileged caller entering its own
 *               rootless session has no capability outside that user
 *               namespace, so it must be in it before it can join the
 *               mount namespace it owns);
 *     TASKFDS   "FD,FD,..." v1 cgroup "tasks" files opened for writing:
 *               "0" moves this single thread, without the global lock that
 *               moving a whole process takes (an RCU grace period);
 *     CGROUP2FD a cgroup2 directory for clone3(CLONE_INTO_CGROUP), or -1;
 *     CLONEFLAGS namespaces to create for the child (CLONE_NEW*), or 0: a
 *               container's init that joins some namespaces by path and
 *               gets new ones of the other types; or -1: do not fork at
 *               all, exec gtu in place (joining a session, where there is
 *               no pid namespace and the caller's pid should stay gtu's);
 *     ARGV      the argument vector for gtu.
 * The environment passes through unchanged. nsenter always forks once after
 * joining, with CLONE_PARENT so that the child is the caller's own child (it
 * can wait for it): joining a pid namespace only applies to children, and
 * CLONE_INTO_CGROUP only to a new process. The intermediate process, still in
 * the caller's pid namespace, writes the child's pid as seen there ("PID\n")
 * to ERRFD and exits 0; the child execs gtu. A failure is one line starting
 * "nsenter: " on ERRFD and exit status 125.
 */

typedef unsigned long u64;
typedef long s64;

#define SYS_write 1
#define SYS_close 3
#define SYS_fcntl 72
#define SYS_exit 60
#define SYS_setgroups 116
#define SYS_setresuid 117
#define SYS_setresgid 119
#define SYS_prctl 157
#define SYS_setns 308
#define SYS_execveat 322
#define SYS_clone3 435

#define PR_SET_DUMPABLE 4
#define F_SETFD 2
#define FD_CLOEXEC 1
#define AT_EMPTY_PATH 0x1000
#define CLONE_PARENT 0x00008000UL
#define CLONE_NEWUSER 0x10000000L
#define CLONE_INTO_CGROUP 0x200000000UL
#define EXIT_FAIL 125

static s64 sys6(s64 n, s64 a, s64 b, s64 c, s64 d, s64 e, s64 f)
{
	s64 ret;
	register s64 r10 __asm__("r10") = d;
	register s64 r8 __asm__("r8") = e;
	register s64 r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define sys3(n, a, b, c) sys6(n, (s64)(a), (s64)(b), (s64)(c), 0, 0, 0)

/* The compiler may emit calls to these even in freestanding code. */
void *memset(void *d, int c, u64 n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

static u64 slen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

static int errfd = 2;

static void put(const char *s) { sys3(SYS_write, errfd, s, slen(s)); }

static void putnum(s64 v)
{
	char buf[24];
	int i = sizeof(buf);
	buf[--i] = 0;
	if (v < 0) {
		put("-");
		v = -v;
	}
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	put(buf + i);
}

static void __attribute__((noreturn)) die(const char *what, s64 err)
{
	put("nsenter: ");
	put(what);
	put(": errno ");
	putnum(-err);
	put("\n");
	sys3(SYS_exit, EXIT_FAIL, 0, 0);
	__builtin_unreachable();
}

/* num parses a decimal number at *p and advances past it. */
static s64 num(const char **p)
{
	s64 v = 0, neg = 0;
	if (**p == '-') {
		neg = 1;
		(*p)++;
	}
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (*(*p)++ - '0');
	return neg ? -v : v;
}

static void become_root(int fd);
static void __attribute__((noreturn)) exec_gtu(int exefd, char **argv, char **envp);

struct clone_args {
	u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

int nsenter_main(int argc, char **argv, char **envp)
{
	if (argc < 8 || argv[7][0] != '-' || argv[7][1] != '-') {
		put("nsenter: bad arguments (it is started by gtu, not by hand)\n");
		return EXIT_FAIL;
	}
	const char *p = argv[1];
	errfd = (int)num(&p);
	p = argv[2];
	int exefd = (int)num(&p);

	/* Nothing in the container may ptrace us or open /proc/PID/exe while
	 * we are in its namespaces with the host's credentials. */
	s64 r = sys6(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0, 0);
	if (r < 0)
		die("prctl(PR_SET_DUMPABLE)", r);

	/* Enter the cgroup first: the tasks files are host files. */
	for (p = argv[4]; *p;) {
		int fd = (int)num(&p);
		r = sys3(SYS_write, fd, "0", 1);
		if (r < 0)
			die("enter cgroup (tasks)", r);
		sys3(SYS_close, fd, 0, 0);
		if (*p == ',')
			p++;
	}
	/* Every namespace but the user namespace now, with the host's
	 * capabilities (they reach into any namespace a descendant user
	 * namespace owns); the user namespace last, in the child: after it our
	 * credentials are the container's, and clone3's CLONE_INTO_CGROUP
	 * checks the caller's right to write the cgroup. */
	int userfd = -1;
	p = argv[6];
	s64 cloneflags = num(&p);
	p = argv[3];
	if (cloneflags < 0 && num(&p) == CLONE_NEWUSER) {
		if (*p++ != ':')
			die("bad namespace list", -22);
		int fd = (int)num(&p);
		if (*p == ',')
			p++;
		become_root(fd);
	} else {
		p = argv[3];
	}
	for (; *p;) {
		s64 flag = num(&p);
		if (*p++ != ':')
			die("bad namespace list", -22);
		int fd = (int)num(&p);
		if (*p == ',')
			p++;
		if (flag == CLONE_NEWUSER) {
			userfd = fd;
			continue;
		}
		r = sys3(SYS_setns, fd, flag, 0);
		if (r < 0) {
			put("nsenter: setns flag ");
			putnum(flag);
			die(" ", r);
		}
		sys3(SYS_close, fd, 0, 0);
	}
	p = argv[5];
	s64 cg2 = num(&p);
	if (cloneflags < 0)
		exec_gtu(exefd, argv, envp);
	u64 newns = (u64)cloneflags;

	struct clone_args ca = {0};
	/* With CLONE_PARENT clone3 wants exit_signal 0: the child inherits
	 * ours, which is SIGCHLD towards the same parent. */
	ca.flags = CLONE_PARENT | newns;
	if (cg2 >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (u64)cg2;
	}
	r = sys3(SYS_clone3, &ca, sizeof(ca), 0);
	if (r < 0)
		die("clone3", r);
	if (r > 0) {
		/* The child is the caller's now; tell it which pid to wait for. */
		putnum(r);
		put("\n");
		return 0;
	}
	if (cg2 >= 0)
		sys3(SYS_close, cg2, 0, 0);
	if (userfd >= 0)
		become_root(userfd);
	exec_gtu(exefd, argv, envp);
}

static void __attribute__((noreturn)) exec_gtu(int exefd, char **argv, char **envp)
{
	/* gtu must not inherit its own image's descriptor; execveat still
	 * runs it (an ELF file, not a script). */
	sys3(SYS_fcntl, exefd, F_SETFD, FD_CLOEXEC);
	s64 r = sys6(SYS_execveat, exefd, (s64) "", (s64)(argv + 8), (s64)envp, AT_EMPTY_PATH, 0);
	die("execveat gtu", r);
}

/* become_root joins the user namespace fd and becomes its root: the host
 * uid of a container's parent is not mapped there, and without this the
 * exec of gtu would drop every capability joining gave us. setgroups may be
 * denied there: fine. */
static void become_root(int fd)
{
	s64 r = sys3(SYS_setns, fd, CLONE_NEWUSER, 0);
	if (r < 0)
		die("setns user", r);
	sys3(SYS_close, fd, 0, 0);
	sys3(SYS_setgroups, 0, 0, 0);
	r = sys3(SYS_setresgid, 0, 0, 0);
	if (r < 0)
		die("setresgid 0 in the user namespace", r);
	r = sys3(SYS_setresuid, 0, 0, 0);
	if (r < 0)
		die("setresuid 0 in the user namespace", r);
}

/* _start: the kernel leaves argc, argv and envp on the stack. */
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov (%rsp), %rdi\n"
	"	lea 8(%rsp), %rsi\n"
	"	lea 16(%rsp,%rdi,8), %rdx\n"
	"	and $-16, %rsp\n"
	"	call nsenter_main\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"
	"	syscall\n");
