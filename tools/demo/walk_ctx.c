// SPDX-License-Identifier: MIT
/*
 * walk_ctx.c - walk-throughs of cancellation: context trees, errgroup,
 * and a server's graceful shutdown on SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "client.h"
#include "green.h"
#include "http.h"
#include "walk.h"

/* ---- cancel -------------------------------------------------------------- */

struct sleeper {
	const char *name;
	int ret;
	double ms;
	int64_t t0;
	green_wg_t *wg;
};

static void ctx_sleeper(void *arg)
{
	struct sleeper *s = arg;

	s->ret = green_sleep(10000 * MS);	/* until cancelled */
	s->ms = walk_ms(s->t0);
	green_wg_done(s->wg);
}

static const char *code(int ret)
{
	return ret == -ECANCELED ? "-ECANCELED" : ret == -ETIMEDOUT ?
	       "-ETIMEDOUT" : ret == -EIO ? "-EIO" : ret ? "error" : "0";
}

struct fetch {
	const char *name;
	int64_t ns;
	int fail;		/* what it returns after @ns, if not 0 */
	int ret;
	double ms;
	int64_t t0;
};

static int fetch(void *arg)
{
	struct fetch *f = arg;

	f->ret = green_sleep(f->ns);	/* -ECANCELED: the group failed */
	if (!f->ret && f->fail)
		f->ret = f->fail;
	f->ms = walk_ms(f->t0);
	return f->ret;
}

struct cancel_walk {
	struct sleeper s[4];
	struct fetch f[3];
	int group_ret;
	double group_ms;
	bool tree_ok;
};

static void tree(struct cancel_walk *w)
{
	green_ctx_t *root, *a, *b;
	green_wg_t wg = GREEN_WG_INIT;
	int64_t t0 = green_now();
	int i;

	walk_step("a tree of contexts: root -> A and root -> B; two tasks run\n"
		  "     under A, two under B, each in a 10 s green_sleep.\n");
	green_ctx_with_cancel(green_ctx_background(), &root);
	green_ctx_with_cancel(root, &a);
	green_ctx_with_timeout(root, 10000 * MS, &b);
	for (i = 0; i < 4; i++) {
		w->s[i] = (struct sleeper){ .name = i < 2 ? "A" : "B",
					    .t0 = t0, .wg = &wg };
		green_wg_add(&wg, 1);
		if (green_go_ctx(i < 2 ? a : b, ctx_sleeper, &w->s[i]))
			green_wg_done(&wg);
	}
	green_sleep(50 * MS);
	walk_step("at 50 ms, cancel A (Go: cancelA()).\n");
	green_ctx_cancel(a);
	green_sleep(50 * MS);
	for (i = 0; i < 4; i++)
		printf("     task %d under %s: %s\n", i, w->s[i].name,
		       w->s[i].ms ? code(w->s[i].ret) : "still asleep");
	w->tree_ok = w->s[0].ms && w->s[1].ms && !w->s[2].ms && !w->s[3].ms;
	walk_step("at 100 ms, cancel root: it reaches B and B's tasks too.\n");
	green_ctx_cancel(root);
	green_wg_wait(&wg);
	for (i = 0; i < 4; i++)
		printf("     task %d under %s: %s after %.1f ms\n", i,
		       w->s[i].name, code(w->s[i].ret), w->s[i].ms);
	w->tree_ok = w->tree_ok && w->s[2].ret == -ECANCELED &&
		     w->s[3].ret == -ECANCELED;
	green_ctx_free(b);
	green_ctx_free(a);
	green_ctx_free(root);
}

static void group(struct cancel_walk *w)
{
	green_errgroup_t eg;
	int64_t t0 = green_now();
	int i;

	walk_step("an errgroup (golang.org/x/sync/errgroup): three fetches in\n"
		  "     parallel; \"orders\" fails with -EIO after 50 ms.\n");
	w->f[0] = (struct fetch){ "users", 300 * MS, 0, 0, 0, t0 };
	w->f[1] = (struct fetch){ "orders", 50 * MS, -EIO, 0, 0, t0 };
	w->f[2] = (struct fetch){ "prices", 300 * MS, 0, 0, 0, t0 };
	if (green_errgroup_init(&eg, NULL))
		return;
	for (i = 0; i < 3; i++)
		green_errgroup_go(&eg, fetch, &w->f[i]);
	w->group_ret = green_errgroup_wait(&eg);
	w->group_ms = walk_ms(t0);
	for (i = 0; i < 3; i++)
		printf("     %-7s returned %s after %.1f ms\n", w->f[i].name,
		       code(w->f[i].ret), w->f[i].ms);
	printf("     green_errgroup_wait returned %s after %.1f ms: the first\n"
	       "     error cancelled the group's context, so the others stopped\n"
	       "     at once instead of finishing work nobody would use.\n",
	       code(w->group_ret), w->group_ms);
}

static void cancel_main(void *arg)
{
	tree(arg);
	group(arg);
}

int walk_cancel(void)
{
	struct cancel_walk w = { 0 };

	if (walk_run(cancel_main, &w, 0))
		return 1;
	walk_check(w.tree_ok, "cancelling A ends A's tasks only, root all");
	walk_check(w.group_ret == -EIO && w.f[0].ret == -ECANCELED &&
		   w.f[2].ret == -ECANCELED && w.group_ms < 250,
		   "the first error cancels the group");
	return 0;
}

/* ---- shutdown ------------------------------------------------------------ */

#define NCLIENTS 3

struct sd_client {
	struct server *srv;
	const char *path;
	int status;
	bool close;
	double at_ms;		/* since the signal */
	int64_t *signal_at;
	green_wg_t *wg;
};

static void sd_client(void *arg)
{
	struct sd_client *c = arg;
	struct hc_resp r = { 0 };
	struct hc hc;

	if (!hc_dial(&hc, &c->srv->addr, green_now() + 5000 * MS)) {
		if (!hc_get(&hc, c->path, &r, green_now() + 5000 * MS)) {
			c->status = r.status;
			c->close = r.close;
		}
		hc_close(&hc);
	}
	c->at_ms = walk_ms(*c->signal_at);
	hc_resp_free(&r);
	green_wg_done(c->wg);
}

struct sd_walk {
	int sfd;
	struct server srv;
	struct sd_client c[NCLIENTS];
	int idle_ret;
	double idle_ms, stop_ms;
	int forced;
	int signo;
};

static void shutdown_main(void *arg)
{
	static const char *const paths[NCLIENTS] = {
		"/sleep?ms=200", "/sleep?ms=400", "/sleep?ms=900",
	};
	struct sd_walk *w = arg;
	struct server_config cfg;
	struct signalfd_siginfo si;
	green_wg_t wg = GREEN_WG_INIT;
	struct hc_resp r;
	int64_t signal_at = 0;
	struct hc idle;
	int i;

	server_config_default(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.quiet = true;
	cfg.drain_ms = 500;
	if (server_start(&w->srv, &cfg))
		return;
	walk_step("a server on port %d, drain bound 500 ms (demo serve\n"
		  "     --drain-ms). Three clients ask for /sleep?ms=200, 400 and\n"
		  "     900; a fourth connection made one request and sits idle.\n",
		  ntohs(w->srv.addr.sin_port));
	for (i = 0; i < NCLIENTS; i++) {
		w->c[i] = (struct sd_client){ &w->srv, paths[i], 0, false, 0,
					      &signal_at, &wg };
		green_wg_add(&wg, 1);
		if (green_go(sd_client, &w->c[i]))
			green_wg_done(&wg);
	}
	if (!hc_dial(&idle, &w->srv.addr, green_now() + 5000 * MS) &&
	    !hc_get(&idle, "/", &r, green_now() + 5000 * MS))
		hc_resp_free(&r);
	green_sleep(50 * MS);
	walk_step("kill(getpid(), SIGTERM), as `kill -TERM <pid>` would. The\n"
		  "     signal is blocked in every thread and read from a signalfd\n"
		  "     by a task, like any file: no async-signal-safety worries.\n");
	signal_at = green_now();
	kill(getpid(), SIGTERM);
	if (green_read(w->sfd, &si, sizeof(si)) == sizeof(si))
		w->signo = si.ssi_signo;
	printf("     task %llu read \"%s\" after %.2f ms; it calls server_shutdown.\n",
	       (unsigned long long)green_self_id(), strsignal(w->signo),
	       walk_ms(signal_at));
	w->forced = server_shutdown(&w->srv);
	w->stop_ms = walk_ms(signal_at);
	w->idle_ret = hc_recv(&idle, &r, green_now() + 1000 * MS);
	hc_resp_free(&r);
	hc_close(&idle);
	green_wg_wait(&wg);
	walk_step("what each client saw:\n");
	printf("     idle connection: closed by the server at once (%s)\n",
	       w->idle_ret == -EPIPE ? "EOF" : "not closed?");
	for (i = 0; i < NCLIENTS; i++) {
		printf("     %-14s -> %d%s, %.0f ms after the signal\n",
		       w->c[i].path, w->c[i].status,
		       w->c[i].close ? " with Connection: close" : "",
		       w->c[i].at_ms);
		printf("        %s\n", w->c[i].status == 200 ?
		       "finished within the bound" : w->c[i].status == 503 ?
		       "still running at the bound: its context was cancelled,\n"
		       "        its sleep returned -ECANCELED and it answered 503" :
		       "no answer");
	}
	walk_step("the server stopped %.0f ms after the signal%s;\n"
		  "     `demo serve` then returns from green_run and exits 0.\n",
		  w->stop_ms, w->forced ? " (at the bound)" : "");
}

int walk_shutdown(void)
{
	struct sd_walk w = { 0 };
	sigset_t mask, old;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	w.sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (w.sfd < 0) {
		perror("demo: signalfd");
		return 1;
	}
	walk_run(shutdown_main, &w, 0);
	close(w.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	walk_check(w.signo == SIGTERM && w.c[0].status == 200 &&
		   w.c[1].status == 200 && w.c[2].status == 503 &&
		   w.idle_ret == -EPIPE && w.forced,
		   "in-flight requests finish or are cut at the bound");
	return 0;
}
