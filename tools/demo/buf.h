/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a growable byte buffer: responses, JSON and request bodies are
 * built in one. Running out of memory sets a flag instead of failing each
 * call; the owner checks it once at the end (the server answers 500).
 */
#ifndef DEMO_BUF_H
#define DEMO_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *p;		/* bytes, not NUL-terminated unless asked */
	size_t len;		/* bytes used */
	size_t cap;		/* bytes allocated */
	bool oom;		/* an append failed: contents are incomplete */
};

#define BUF_INIT { NULL, 0, 0, false }

/* Make room for @n more bytes; false (and oom set) when out of memory. */
bool buf_reserve(struct buf *b, size_t n);
void buf_put(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drop the first @n bytes (consumed input), keeping the rest. */
void buf_consume(struct buf *b, size_t n);
/* A NUL-terminated view of the contents (the NUL is not counted). */
const char *buf_cstr(struct buf *b);
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = false;
}
void buf_free(struct buf *b);

#endif /* DEMO_BUF_H */
