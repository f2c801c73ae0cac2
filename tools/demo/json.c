// SPDX-License-Identifier: MIT
/*
 * json.c - the JSON writer of json.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, struct buf *b)
{
	j->b = b;
	j->depth = 0;
	j->first[0] = true;
}

static void put_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	buf_putc(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				char u[6] = { '\\', 'u', '0', '0',
					      hex[*p >> 4], hex[*p & 15] };

				buf_put(b, u, sizeof(u));
			} else {
				buf_putc(b, (char)*p);
			}
		}
	}
	buf_putc(b, '"');
}

/* The comma and the key that come before a value. */
static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		buf_putc(j->b, ',');
	j->first[j->depth] = false;
	if (key) {
		put_string(j->b, key);
		buf_putc(j->b, ':');
	}
}

static void nest(struct json *j, const char *key, char c)
{
	member(j, key);
	buf_putc(j->b, c);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void unnest(struct json *j, char c)
{
	buf_putc(j->b, c);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_begin(struct json *j, const char *key)
{
	nest(j, key, '{');
}

void json_obj_end(struct json *j)
{
	unnest(j, '}');
}

void json_arr_begin(struct json *j, const char *key)
{
	nest(j, key, '[');
}

void json_arr_end(struct json *j)
{
	unnest(j, ']');
}

/* Digits of @v, without printf: numbers are most of what is written. */
static void put_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	buf_put(b, tmp + i, sizeof(tmp) - i);
}

void json_int(struct json *j, const char *key, int64_t v)
{
	member(j, key);
	if (v < 0) {
		buf_putc(j->b, '-');
		put_u64(j->b, -(uint64_t)v);
	} else {
		put_u64(j->b, v);
	}
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	put_u64(j->b, v);
}

void json_double(struct json *j, const char *key, double v, int prec)
{
	member(j, key);
	if (isfinite(v))
		buf_printf(j->b, "%.*f", prec, v);
	else
		buf_puts(j->b, "null");
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	buf_puts(j->b, v ? "true" : "false");
}

void json_str(struct json *j, const char *key, const char *s)
{
	member(j, key);
	if (s)
		put_string(j->b, s);
	else
		buf_puts(j->b, "null");
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	buf_puts(j->b, "null");
}

void json_finish(struct json *j)
{
	buf_putc(j->b, '\n');
}

int json_get_num(const char *doc, const char *key, double *out)
{
	char pat[64];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = doc ? strstr(doc, pat) : NULL;
	if (!p)
		return -ENOENT;
	*out = strtod(p + strlen(pat), &end);
	return end == p + strlen(pat) ? -ENOENT : 0;
}
