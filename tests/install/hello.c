// SPDX-License-Identifier: MIT
/* The README's example, built against an installed libgreen by
 * tests/install/run.sh; keep the two the same. */
#include <green.h>
#include <stdio.h>

static void hello(void *arg)
{
	printf("hello from task %llu on P%d\n",
	       (unsigned long long)green_self_id(), green_proc_id());
	green_wg_done(arg);
}

static void main_task(void *arg)
{
	green_wg_t wg = GREEN_WG_INIT;

	for (int i = 0; i < 10; i++) {
		green_wg_add(&wg, 1);
		green_go(hello, &wg);
	}
	green_wg_wait(&wg);	/* parks this task, not its thread */
}

int main(void)
{
	return green_run(main_task, NULL) ? 1 : 0;
}
