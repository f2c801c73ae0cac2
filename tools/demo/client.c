// SPDX-License-Identifier: MIT
/*
 * client.c - the tour's HTTP client (client.h). Answers are parsed with
 * http-parser in response mode; like the server, it pauses at the end of
 * each message so that pipelined answers are taken one at a time.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "green.h"

static void copy_value(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void header_done(struct hc *c)
{
	struct hc_resp *r = c->r;

	if (c->hname_len == 11 && !strncasecmp(c->hname, "retry-after", 11))
		copy_value(r->retry_after, sizeof(r->retry_after), c->hval,
			   c->hval_len);
	else if (c->hname_len == 5 && !strncasecmp(c->hname, "allow", 5))
		copy_value(r->allow, sizeof(r->allow), c->hval, c->hval_len);
	c->hname_len = c->hval_len = 0;
	c->hstate = 0;
}

static void append(char *dst, size_t *len, size_t cap, const char *at,
		   size_t n)
{
	if (n > cap - *len)
		n = cap - *len;
	memcpy(dst + *len, at, n);
	*len += n;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct hc *c = p->data;

	if (c->hstate == 2)
		header_done(c);
	c->hstate = 1;
	append(c->hname, &c->hname_len, sizeof(c->hname), at, n);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct hc *c = p->data;

	c->hstate = 2;
	append(c->hval, &c->hval_len, sizeof(c->hval), at, n);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct hc *c = p->data;

	if (c->hstate == 2)
		header_done(c);
	c->r->status = p->status_code;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct hc *c = p->data;

	buf_put(&c->r->body, at, n);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct hc *c = p->data;

	c->r->close = !http_should_keep_alive(p);
	c->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

int hc_dial(struct hc *c, const struct sockaddr_in *sa, int64_t deadline)
{
	int one = 1, ret;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ret = green_connect_until(c->fd, (const struct sockaddr *)sa,
				  sizeof(*sa), deadline);
	if (ret) {
		green_close(c->fd);
		c->fd = -1;
		return ret;
	}
	http_parser_init(&c->p, HTTP_RESPONSE);
	c->p.data = c;
	return 0;
}

int hc_send_raw(struct hc *c, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;
	ssize_t n;

	c->sent_at = green_now();
	while (len) {
		n = green_send_until(c->fd, p, len, 0, deadline);
		if (n <= 0)
			return n ? (int)n : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

int hc_send(struct hc *c, const char *method, const char *path,
	    const char *headers, const void *body, size_t blen,
	    int64_t deadline)
{
	struct buf b = BUF_INIT;
	int ret;

	buf_printf(&b, "%s %s HTTP/1.1\r\nHost: demo\r\n%s", method, path,
		   headers ? headers : "");
	if (body || blen)
		buf_printf(&b, "Content-Length: %zu\r\n", blen);
	buf_puts(&b, "\r\n");
	buf_put(&b, body, blen);
	ret = b.oom ? -ENOMEM : hc_send_raw(c, b.p, b.len, deadline);
	buf_free(&b);
	return ret;
}

int hc_recv(struct hc *c, struct hc_resp *r, int64_t deadline)
{
	enum http_errno err;
	size_t n;
	ssize_t got;

	memset(r, 0, sizeof(*r));
	c->r = r;
	c->complete = false;
	c->hstate = 0;
	c->hname_len = c->hval_len = 0;
	http_parser_pause(&c->p, 0);
	for (;;) {
		if (c->in.len) {
			n = http_parser_execute(&c->p, &settings, c->in.p,
						c->in.len);
			buf_consume(&c->in, n);
			err = HTTP_PARSER_ERRNO(&c->p);
			if (c->complete)
				break;
			if (err != HPE_OK)
				return -EPROTO;
		}
		if (!buf_reserve(&c->in, 16384))
			return -ENOMEM;
		got = green_recv_until(c->fd, c->in.p + c->in.len, 16384, 0,
				       deadline);
		if (got < 0)
			return got;
		if (got == 0)
			return -EPIPE;
		c->in.len += got;
	}
	r->ns = green_now() - c->sent_at;
	return 0;
}

int hc_get(struct hc *c, const char *path, struct hc_resp *r,
	   int64_t deadline)
{
	int ret = hc_send(c, "GET", path, NULL, NULL, 0, deadline);

	if (ret) {
		memset(r, 0, sizeof(*r));
		return ret;
	}
	return hc_recv(c, r, deadline);
}

void hc_close(struct hc *c)
{
	if (c->fd >= 0)
		green_close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
}

void hc_resp_free(struct hc_resp *r)
{
	buf_free(&r->body);
}
