// SPDX-License-Identifier: MIT
/*
 * backtrace.c - backtraces by frame pointers, and names for addresses.
 *
 * libgreen is built with frame pointers (-fno-omit-frame-pointer), as is
 * most code that calls it: a frame starts with the caller's rbp, and the
 * return address sits right above it. A parked task's context is on its
 * own stack, where green_ctx_switch (switch_x86_64.S) pushed it:
 *
 *   g->sp -> [MXCSR, x87 CW] [r15] [r14] [r13] [r12] [rbx] [rbp] [ret]
 *             +0              +8                          +48   +56
 *
 * so its walk starts at pc = ret, fp = the saved rbp (once ret is checked
 * to follow a call of green_ctx_switch). Each frame pointer
 * must lie inside the task's stack, above the previous one and aligned,
 * before it is read: a function built without frame pointers (much of
 * libc) ends the walk early, never with a fault. The walk only reads
 * memory, so the stall handler (stall.c) uses it in a signal handler.
 *
 * Names: the ELF symbol table (.symtab, static functions included) of
 * the file the address is in, read once per module and cached; else
 * dladdr() (exported symbols only); else module+offset, which
 * addr2line -e module turns into a line.
 */
#include <dlfcn.h>
#include <errno.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug.h"

#define SYMTAB_CACHE 32

/* A function symbol, in a table sorted by address for binary search. */
struct fsym {
	uintptr_t addr, size;
	uint32_t name;			/* offset in the string table */
	bool global;
};

struct modsyms {
	uintptr_t bias;			/* runtime - file address */
	void *map;			/* the file, mapped read-only */
	size_t len;
	struct fsym *funcs;		/* NULL: no symbols to be had */
	size_t nfuncs;
	const char *strs;
	size_t strs_len;
};

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static struct modsyms cache[SYMTAB_CACHE];
static int ncache;

DEBUG_NOSAN int bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo,
			uintptr_t hi, uintptr_t *pcs, int max)
{
	int n = 0;

	if (pc && n < max)
		pcs[n++] = pc;
	while (n < max) {
		const volatile uintptr_t *f = (const volatile uintptr_t *)fp;
		uintptr_t next, ret;

		if ((fp & 7) || fp < lo || fp >= hi - 2 * sizeof(uintptr_t))
			break;
		next = f[0];
		ret = f[1];
		if (!ret)
			break;
		pcs[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

/*
 * Is @ret the return address of a direct call to green_ctx_switch (e8
 * and a 32-bit displacement; it is a hidden symbol, never called through
 * the PLT)? A task's saved sp is stale while the task runs or has not
 * finished switching away; then the word there is something else.
 */
DEBUG_NOSAN static bool switch_return(uintptr_t ret)
{
	const volatile uint8_t *call = (const volatile uint8_t *)ret - 5;
	int32_t disp;

	if (ret < 5 || call[0] != 0xe8)
		return false;
	memcpy(&disp, (const void *)(ret - 4), sizeof(disp));
	return ret + (intptr_t)disp == (uintptr_t)green_ctx_switch;
}

DEBUG_NOSAN int bt_parked(uintptr_t sp, uintptr_t lo, uintptr_t hi,
			  uintptr_t *pcs, int max)
{
	const volatile uintptr_t *s = (const volatile uintptr_t *)sp;
	uintptr_t ret;

	if ((sp & 7) || sp < lo || sp + 64 > hi)
		return -1;
	ret = s[7];
	if (!switch_return(ret))
		return -1;
	return bt_walk(ret, s[6], sp + 64, hi, pcs, max);
}

DEBUG_NOSAN int bt_self(uintptr_t hi, uintptr_t *pcs, int max)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);

	return bt_walk(0, fp, fp, hi, pcs, max);
}

/* Where the loaded object holding an address is, and its file. */
struct modfind {
	uintptr_t pc;
	uintptr_t bias;
	const char *name;
	bool found;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct modfind *mf = arg;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || mf->pc < start ||
		    mf->pc >= start + ph->p_memsz)
			continue;
		mf->bias = info->dlpi_addr;
		mf->name = info->dlpi_name;
		mf->found = true;
		return 1;
	}
	return 0;
}

static int by_addr(const void *x, const void *y)
{
	const struct fsym *a = x, *b = y;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (int)b->global - (int)a->global;	/* globals first */
}

/* The defined functions of @syms, sorted by address. */
static bool index_funcs(struct modsyms *ms, const Elf64_Sym *syms,
			size_t n)
{
	size_t i, k = 0;

	ms->funcs = malloc((n ? n : 1) * sizeof(*ms->funcs));
	if (!ms->funcs)
		return false;
	for (i = 0; i < n; i++) {
		int type = ELF64_ST_TYPE(syms[i].st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    syms[i].st_shndx == SHN_UNDEF ||
		    syms[i].st_name >= ms->strs_len)
			continue;
		ms->funcs[k].addr = syms[i].st_value;
		ms->funcs[k].size = syms[i].st_size ? syms[i].st_size : 1;
		ms->funcs[k].name = syms[i].st_name;
		ms->funcs[k].global =
			ELF64_ST_BIND(syms[i].st_info) == STB_GLOBAL;
		k++;
	}
	qsort(ms->funcs, k, sizeof(*ms->funcs), by_addr);
	ms->nfuncs = k;
	return true;
}

/* Map @path and index its functions; false if it has no symbols. */
static bool symtab_load(struct modsyms *ms, const char *path)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	struct stat st;
	int fd, i, pick = -1;
	void *map;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(*eh)) {
		close(fd);
		return false;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	ms->map = map;
	ms->len = st.st_size;
	eh = map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(*sh) || eh->e_shoff > ms->len ||
	    (size_t)eh->e_shnum * sizeof(*sh) > ms->len - eh->e_shoff)
		return false;
	sh = (const Elf64_Shdr *)((const char *)map + eh->e_shoff);
	/* .symtab has the static functions too; .dynsym is the fallback. */
	for (i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB ||
		    (pick < 0 && sh[i].sh_type == SHT_DYNSYM))
			pick = i;
	if (pick < 0 || sh[pick].sh_link >= eh->e_shnum)
		return false;
	if (sh[pick].sh_offset > ms->len ||
	    sh[pick].sh_size > ms->len - sh[pick].sh_offset ||
	    sh[sh[pick].sh_link].sh_offset > ms->len ||
	    sh[sh[pick].sh_link].sh_size >
	    ms->len - sh[sh[pick].sh_link].sh_offset)
		return false;
	ms->strs = (const char *)map + sh[sh[pick].sh_link].sh_offset;
	ms->strs_len = sh[sh[pick].sh_link].sh_size;
	return index_funcs(ms, (const Elf64_Sym *)((const char *)map +
						   sh[pick].sh_offset),
			   sh[pick].sh_size / sizeof(Elf64_Sym));
}

/* The cached symbols of the module at @bias; sym_lock held. */
static struct modsyms *symtab_get(uintptr_t bias, const char *name)
{
	struct modsyms *ms;
	int i;

	for (i = 0; i < ncache; i++)
		if (cache[i].bias == bias)
			return cache[i].funcs ? &cache[i] : NULL;
	if (ncache == SYMTAB_CACHE)
		return NULL;
	ms = &cache[ncache++];
	memset(ms, 0, sizeof(*ms));
	ms->bias = bias;
	/* The main program's name is "": read it through /proc. */
	if (!symtab_load(ms, name && *name ? name : "/proc/self/exe")) {
		if (ms->map)
			munmap(ms->map, ms->len);
		free(ms->funcs);
		ms->map = NULL;
		ms->funcs = NULL;
		return NULL;
	}
	return ms;
}

/* The function symbol around file address @a: its name and start. */
static const char *symtab_find(const struct modsyms *ms, uintptr_t a,
			       uintptr_t *start)
{
	size_t lo = 0, hi = ms->nfuncs;
	const struct fsym *f;

	/* The first entry above @a; the one before it may hold @a. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ms->funcs[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	f = &ms->funcs[lo - 1];
	/* Aliases of one address: the global one sorts first. */
	while (f > ms->funcs && f[-1].addr == f->addr)
		f--;
	if (a >= f->addr + f->size)
		return NULL;
	*start = f->addr;
	return ms->strs + f->name;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

void bt_symbol(uintptr_t pc, char *buf, size_t n)
{
	struct modfind mf = { .pc = pc ? pc - 1 : 0 };
	const char *mod, *fn = NULL;
	uintptr_t start = 0;
	struct modsyms *ms;
	Dl_info di;

	if (!pc || !dl_iterate_phdr(find_module, &mf) || !mf.found) {
		snprintf(buf, n, "?");
		return;
	}
	mod = mf.name && *mf.name ? base_name(mf.name) :
	      program_invocation_short_name;
	mutex_lock(&sym_lock);
	ms = symtab_get(mf.bias, mf.name);
	if (ms) {
		fn = symtab_find(ms, pc - 1 - mf.bias, &start);
		start += mf.bias;
	}
	if (fn) {
		snprintf(buf, n, "%s+0x%lx (%s)", fn,
			 (unsigned long)(pc - start), mod);
		mutex_unlock(&sym_lock);
		return;
	}
	mutex_unlock(&sym_lock);
	if (dladdr((void *)(pc - 1), &di) && di.dli_sname && di.dli_saddr) {
		snprintf(buf, n, "%s+0x%lx (%s)", di.dli_sname,
			 (unsigned long)(pc - (uintptr_t)di.dli_saddr), mod);
		return;
	}
	snprintf(buf, n, "%s+0x%lx", mod, (unsigned long)(pc - mf.bias));
}

void bt_print(FILE *f, const uintptr_t *pcs, int n)
{
	char sym[256];
	int i;

	for (i = 0; i < n; i++) {
		bt_symbol(pcs[i], sym, sizeof(sym));
		fprintf(f, "\t#%-2d 0x%016lx %s\n", i, (unsigned long)pcs[i],
			sym);
	}
}

void bt_fini(void)
{
	int i;

	mutex_lock(&sym_lock);
	for (i = 0; i < ncache; i++) {
		if (cache[i].map)
			munmap(cache[i].map, cache[i].len);
		free(cache[i].funcs);
	}
	ncache = 0;
	mutex_unlock(&sym_lock);
}
