/*
 * A stand-in for vmlinux in report --kernel-lines tests: the kernel code model, linked
 * at the kernel's base address, with a build-id and DWARF. It is never run; the tests
 * read its symbols (the after_* labels are the return addresses a kernel stack would
 * hold) and name its addresses. A comment "at: NAME" marks each line a test expects
 * (an asm statement's line is its first).
 * Built with -fno-toplevel-reorder, so _text (the linker script's, in a real vmlinux)
 * is where the code begins.
 */

asm(".text\n.globl _text\n_text:");

__attribute__((noinline)) long ksys_getppid(long nr)
{
	return nr + 1;
}

static inline __attribute__((always_inline)) long x64_sys_call(long nr)
{
	long r;

	asm volatile("call ksys_getppid\n.globl after_ksys_getppid\nafter_ksys_getppid:" /* at: x64_sys_call */
		     : "=a"(r) : "D"(nr) : "memory");
	return r;
}

__attribute__((noinline)) long do_syscall_64(long nr)
{
	long r = x64_sys_call(nr); /* at: do_syscall_64 */

	return r * 2;
}

void entry_SYSCALL_64(void)
{
	asm volatile("mov $110, %%edi\ncall do_syscall_64\n.globl after_do_syscall_64\n" /* at: entry_SYSCALL_64 */
		     "after_do_syscall_64:" ::: "memory", "rax", "rdi");
	for (;;)
		;
}
