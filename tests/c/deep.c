/* Stack-symbolization workload for hytrace's tests: main -> a -> b -> c ->
 * recurse(25) -> getppid, N times. The tests read this file to find the line of each
 * call (the lines marked "call:") and build it with -O0 -g -fno-omit-frame-pointer. The
 * system call is made by an always-inlined function so that the innermost frame is
 * recurse's own (with the inlined frame above it) instead of libc's, whose wrapper has
 * no frame pointer. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline __attribute__((always_inline)) long raw_getppid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(110L) : "rcx", "r11", "memory"); /* call: syscall */
	return ret;
}

__attribute__((noinline)) long recurse(int depth)
{
	if (depth > 1)
		return recurse(depth - 1) + 1; /* call: recurse */
	return raw_getppid(); /* call: raw_getppid */
}

__attribute__((noinline)) long c(void)
{
	return recurse(25); /* call: c */
}

__attribute__((noinline)) long b(void)
{
	return c(); /* call: b */
}

__attribute__((noinline)) long a(void)
{
	return b(); /* call: a */
}

/* With DEEP_REPORT in the environment, prints "deep: N calls, T ns per call" on stderr
 * (the benchmarks time the loop itself, not the tool that started deep). */
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;
	long sum = 0;
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < n; i++)
		sum += a(); /* call: main */
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (getenv("DEEP_REPORT")) {
		double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
		fprintf(stderr, "deep: %ld calls, %.1f ns per call\n", n, ns / (n > 0 ? n : 1));
	}
	return sum == 0;
}
