/*
 * kernel/syscalls.c — the system calls newlib expects, for a freestanding
 * hypervisor: the heap (sbrk over one contiguous block from the frame
 * allocator), stdout/stderr to the console, and nothing else.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/panic.h"

#undef errno
extern int errno;

static char *heap_start, *heap_end, *heap_brk;

void heap_init(uint64_t base, uint64_t size)
{
	heap_start = heap_brk = (char *)(uintptr_t)base;
	heap_end = heap_start + size;
}

uint64_t heap_used(void) { return (uint64_t)(heap_brk - heap_start); }
uint64_t heap_size(void) { return (uint64_t)(heap_end - heap_start); }

void *_sbrk(intptr_t incr)
{
	char *old = heap_brk;

	if (!heap_start || incr > heap_end - heap_brk || heap_brk + incr < heap_start) {
		errno = ENOMEM;
		return (void *)-1;
	}
	heap_brk += incr;
	return old;
}

int _write(int fd, const char *buf, int len)
{
	if (fd != 1 && fd != 2) {
		errno = EBADF;
		return -1;
	}
	log_raw(buf, (size_t)len);
	return len;
}

int _read(int fd, char *buf, int len)
{
	(void)fd;
	(void)buf;
	(void)len;
	return 0;
}

int _close(int fd)
{
	(void)fd;
	return -1;
}

int _fstat(int fd, struct stat *st)
{
	(void)fd;
	st->st_mode = S_IFCHR;
	return 0;
}

int _isatty(int fd) { return fd <= 2; }

int _lseek(int fd, int off, int whence)
{
	(void)fd;
	(void)off;
	(void)whence;
	return 0;
}

int _open(const char *name, int flags, int mode)
{
	(void)name;
	(void)flags;
	(void)mode;
	errno = ENOENT;
	return -1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig)
{
	(void)pid;
	(void)sig;
	errno = EINVAL;
	return -1;
}

void _exit(int code) { panic("exit(%d) called", code); }

/* This newlib build calls the plain names (MISSING_SYSCALL_NAMES). */
void *sbrk(intptr_t incr) __attribute__((alias("_sbrk")));
int write(int fd, const char *buf, int len) __attribute__((alias("_write")));
int read(int fd, char *buf, int len) __attribute__((alias("_read")));
int close(int fd) __attribute__((alias("_close")));
int fstat(int fd, struct stat *st) __attribute__((alias("_fstat")));
int isatty(int fd) __attribute__((alias("_isatty")));
int lseek(int fd, int off, int whence) __attribute__((alias("_lseek")));
int getpid(void) __attribute__((alias("_getpid")));
int kill(int pid, int sig) __attribute__((alias("_kill")));
