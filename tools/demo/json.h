/* SPDX-License-Identifier: MIT */
/*
 * json.h - a tiny JSON writer into a struct buf. Every value call takes
 * the member's key (NULL inside arrays and at the top level); commas are
 * placed by the writer. Output is compact, one object a line, as Go's
 * json.Encoder writes it.
 */
#ifndef DEMO_JSON_H
#define DEMO_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define JSON_MAX_DEPTH 32

struct json {
	struct buf *b;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* no member written yet at depth */
};

void json_init(struct json *j, struct buf *b);
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);
/* A number with @prec digits after the point (JSON has no NaN: null). */
void json_double(struct json *j, const char *key, double v, int prec);
void json_bool(struct json *j, const char *key, bool v);
void json_str(struct json *j, const char *key, const char *s);
void json_null(struct json *j, const char *key);
/* End the document: a newline, as Go's json.Encoder. */
void json_finish(struct json *j);

/*
 * json_get_num() - the number after the first "@key": in @doc, into
 * *@out. Not a parser: for reading the service's own answers (the tour),
 * whose keys are unique. 0, or -ENOENT.
 */
int json_get_num(const char *doc, const char *key, double *out);

#endif /* DEMO_JSON_H */
