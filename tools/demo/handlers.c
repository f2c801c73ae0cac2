// SPDX-License-Identifier: MIT
/*
 * handlers.c - the route table, what endpoints share, GET / and POST /echo.
 *
 * Go's equivalent is an http.ServeMux with one HandleFunc per path; each
 * handler here checks its method the way Go 1.22's "GET /path" patterns
 * do (405 with an Allow header), and a path nobody serves is 404.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "handlers.h"

struct route {
	const char *path;
	int method;		/* HTTP_GET (HEAD too) or HTTP_POST */
	bool fast;		/* answers without waiting */
	void (*fn)(struct http_req *req, struct http_resp *resp);
};

static const struct route routes[EP_COUNT] = {
	[EP_ROOT] = { "/", HTTP_GET, true, ep_root },
	[EP_FANOUT] = { "/fanout", HTTP_GET, false, ep_fanout },
	[EP_PIPELINE] = { "/pipeline", HTTP_GET, false, ep_pipeline },
	[EP_POOL] = { "/pool", HTTP_GET, false, ep_pool },
	[EP_RATELIMIT] = { "/ratelimit", HTTP_GET, true, ep_ratelimit },
	[EP_SLEEP] = { "/sleep", HTTP_GET, false, ep_sleep },
	[EP_CANCEL] = { "/cancel", HTTP_GET, false, ep_cancel },
	[EP_STATS] = { "/stats", HTTP_GET, true, ep_stats },
	[EP_METRICS] = { "/metrics", HTTP_GET, true, ep_metrics },
	[EP_ECHO] = { "/echo", HTTP_POST, true, ep_echo },
};

const char *const ep_name[EP_COUNT] = {
	[EP_OTHER] = "other",
	[EP_ROOT] = "/",
	[EP_FANOUT] = "/fanout",
	[EP_PIPELINE] = "/pipeline",
	[EP_POOL] = "/pool",
	[EP_RATELIMIT] = "/ratelimit",
	[EP_SLEEP] = "/sleep",
	[EP_CANCEL] = "/cancel",
	[EP_STATS] = "/stats",
	[EP_METRICS] = "/metrics",
	[EP_ECHO] = "/echo",
};

int route_lookup(const char *path)
{
	int ep;

	for (ep = EP_OTHER + 1; ep < EP_COUNT; ep++)
		if (!strcmp(path, routes[ep].path))
			return ep;
	return EP_OTHER;
}

bool route_fast(int ep)
{
	return ep == EP_OTHER || routes[ep].fast;
}

void route_serve(int ep, struct http_req *req, struct http_resp *resp)
{
	const struct route *r = &routes[ep];
	char msg[96];

	if (ep == EP_OTHER) {
		snprintf(msg, sizeof(msg), "no such path: %.64s", req->path);
		resp_error(resp, 404, msg);
		return;
	}
	if (req->method != r->method &&
	    !(req->method == HTTP_HEAD && r->method == HTTP_GET)) {
		http_resp_header(resp, "Allow", r->method == HTTP_GET ?
				 "GET, HEAD" : "POST");
		snprintf(msg, sizeof(msg), "method not allowed: %s %.64s",
			 http_method_str(req->method), req->path);
		resp_error(resp, 405, msg);
		return;
	}
	r->fn(req, resp);
}

int handlers_start(struct server *s)
{
	int ret;

	ret = pool_service_start();
	if (ret)
		return ret;
	ret = ratelimit_service_start();
	if (ret)
		pool_service_stop();
	return ret;
}

void handlers_stop(struct server *s)
{
	ratelimit_service_stop();
	pool_service_stop();
}

/* The value of @name in a query string "a=1&b=2", or NULL. */
static const char *query_get(const char *q, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = q, *end;

	while (*p) {
		end = strchr(p, '&');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && !strncmp(p, name, nlen) &&
		    p[nlen] == '=') {
			*len = end - p - nlen - 1;
			return p + nlen + 1;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

int query_long(const struct http_req *req, struct http_resp *resp,
	       const char *name, long def, long min, long max, long *out)
{
	char tmp[24], *end, msg[96];
	const char *v;
	size_t len;
	long n;

	v = query_get(req->query, name, &len);
	if (!v) {
		*out = def;
		return 0;
	}
	if (len && len < sizeof(tmp)) {
		memcpy(tmp, v, len);
		tmp[len] = '\0';
		errno = 0;
		n = strtol(tmp, &end, 10);
		if (!errno && !*end && n >= min && n <= max) {
			*out = n;
			return 0;
		}
	}
	snprintf(msg, sizeof(msg), "%s: want an integer in [%ld, %ld]", name,
		 min, max);
	resp_error(resp, 400, msg);
	return -EINVAL;
}

void resp_json(struct http_resp *resp, struct json *j)
{
	buf_reset(resp->body);
	json_init(j, resp->body);
	json_obj_begin(j, NULL);
}

void resp_json_end(struct json *j)
{
	json_obj_end(j);
	json_finish(j);
}

void resp_error(struct http_resp *resp, int status, const char *msg)
{
	struct json j;

	resp->status = status;
	resp->ctype = NULL;
	resp_json(resp, &j);
	json_str(&j, "error", msg);
	json_int(&j, "status", status);
	resp_json_end(&j);
}

/* GET /: who answered. */
void ep_root(struct http_req *req, struct http_resp *resp)
{
	struct json j;

	resp_json(resp, &j);
	json_str(&j, "message", "hello from libgreen");
	json_uint(&j, "task", green_self_id());
	json_int(&j, "proc", green_proc_id());
	json_uint(&j, "conn", req->conn_id);
	json_uint(&j, "request", req->seq);
	resp_json_end(&j);
}

/* POST /echo: what arrived of the body (Content-Length or chunked). */
void ep_echo(struct http_req *req, struct http_resp *resp)
{
	struct json j;
	char hash[16];

	snprintf(hash, sizeof(hash), "%08x", req->body_fnv);
	resp_json(resp, &j);
	json_uint(&j, "bytes", req->body_len);
	json_str(&j, "fnv1a32", hash);
	json_bool(&j, "chunked", req->chunked);
	resp_json_end(&j);
}
