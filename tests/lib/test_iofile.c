// SPDX-License-Identifier: MIT
/*
 * test_iofile.c - file I/O through libgreen, on every poller:
 * green_openat, green_pwrite/green_pread at random offsets with every
 * byte checked against what plain read(2) sees, green_write/green_read
 * advancing the file offset, green_readv/green_writev, green_fsync,
 * green_close, many tasks writing one file at once, and the same calls
 * outside a task.
 */
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "test_io_util.h"

IO_FIXTURE(iofile);

/* A temporary directory per test, removed with what is in it. */
struct tmpdir {
	char path[64];
};

static int tmpdir_make(struct tmpdir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/green_iofile_XXXXXX");
	return mkdtemp(d->path) ? 0 : -errno;
}

static void tmpdir_remove(struct tmpdir *d, const char *const *names)
{
	char p[128];

	for (; *names; names++) {
		snprintf(p, sizeof(p), "%s/%s", d->path, *names);
		unlink(p);
	}
	rmdir(d->path);
}

/* ---- pwrite/pread at random offsets ---- */

#define BLK 4096

struct rw {
	char path[128];
	size_t size;		/* file size, a multiple of BLK */
	int fd, open_again;
	ssize_t werr, rerr;
	size_t wbytes, rbytes, bad;
	int fsync_ret, close_ret, close_again;
	int excl_ret, noent_ret;
	long reads;
};

static void rw_main(void *arg)
{
	struct rw *t = arg;
	size_t nblk = t->size / BLK, i, n, k;
	size_t *order = malloc(nblk * sizeof(*order));
	uint8_t *buf = malloc(16 * BLK);
	uint64_t s = 99;
	ssize_t r;

	if (!order || !buf) {
		t->werr = -ENOMEM;
		goto out;
	}
	t->fd = green_openat(AT_FDCWD, t->path,
			     O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		t->werr = t->fd;
		goto out;
	}
	/* Blocks in a shuffled order, runs of 1..16 blocks at a time. */
	for (i = 0; i < nblk; i++)
		order[i] = i;
	for (i = nblk - 1; i > 0; i--) {
		size_t j = rnd(&s) % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (i = 0; i < nblk; i++) {
		size_t off = order[i] * BLK;

		n = rnd_size(&s, 16) * BLK;
		if (off + n > t->size)
			n = t->size - off;
		pat_fill(buf, n, 1234, off);
		r = green_pwrite(t->fd, buf, n, off);
		if (r != (ssize_t)n) {
			t->werr = r < 0 ? r : -EIO;
			goto out;
		}
		t->wbytes += n;
	}
	t->fsync_ret = green_fsync(t->fd);
	/* Read back random ranges, not block aligned. */
	for (k = 0; k < nblk; k++) {
		size_t off = rnd(&s) % t->size;

		n = rnd_size(&s, 16 * BLK);
		if (off + n > t->size)
			n = t->size - off;
		memset(buf, 0, n);
		r = green_pread(t->fd, buf, n, off);
		t->reads++;
		if (r != (ssize_t)n) {
			t->rerr = r < 0 ? r : -EIO;
			break;
		}
		t->bad += pat_bad(buf, n, 1234, off);
		t->rbytes += n;
	}
	/* Past the end: 0. */
	r = green_pread(t->fd, buf, 10, t->size);
	if (r != 0)
		t->rerr = r ? r : -1000;
	t->close_ret = green_close(t->fd);
	t->close_again = green_close(t->fd);
	t->excl_ret = green_openat(AT_FDCWD, t->path,
				   O_RDWR | O_CREAT | O_EXCL, 0600);
	t->noent_ret = green_openat(AT_FDCWD, "/nonexistent/green/file",
				    O_RDONLY, 0);
out:
	free(order);
	free(buf);
}

TEST_F(iofile, pwrite_pread)
{
	static const char *const names[] = { "data", NULL };
	struct rw t = { 0 };
	struct tmpdir d;
	struct stat st;
	mode_t um;
	uint8_t *buf;
	size_t got = 0;
	ssize_t r;
	int fd;

	ASSERT_EQ(0, tmpdir_make(&d));
	snprintf(t.path, sizeof(t.path), "%s/data", d.path);
	t.size = scaled(8 << 20, 256 << 10);
	IO_RUN(rw_main, &t);
	EXPECT_EQ(0, t.werr);
	EXPECT_EQ(0, t.rerr);
	EXPECT_GE(t.wbytes, t.size);
	EXPECT_EQ(0, (long)t.bad);
	EXPECT_GT(t.reads, 0);
	EXPECT_EQ(0, t.fsync_ret);
	EXPECT_EQ(0, t.close_ret);
	EXPECT_EQ(-EBADF, t.close_again);
	EXPECT_EQ(-EEXIST, t.excl_ret);
	EXPECT_EQ(-ENOENT, t.noent_ret);

	/* What plain read(2) sees. */
	ASSERT_EQ(0, stat(t.path, &st));
	EXPECT_EQ(t.size, (size_t)st.st_size);
	um = umask(0);
	umask(um);
	EXPECT_EQ(0600 & ~um, st.st_mode & 0777);
	buf = malloc(t.size);
	ASSERT_NE(NULL, buf);
	fd = open(t.path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	while (got < t.size && (r = read(fd, buf + got, t.size - got)) > 0)
		got += r;
	close(fd);
	EXPECT_EQ(t.size, got);
	EXPECT_EQ(0, (long)pat_bad(buf, got, 1234, 0));
	free(buf);
	tmpdir_remove(&d, names);
}

/* ---- the file offset, readv/writev, openat relative to a directory ---- */

struct seq {
	char dir[64];
	int dfd, fd;
	ssize_t w[4], r[6];
	char rb[4][8];
	int64_t at_eof;
	char vbuf[3][5];
	int fsync_pipe;
};

static void seq_main(void *arg)
{
	struct seq *t = arg;
	struct iovec wv[3] = {
		{ "ghi", 3 }, { "", 0 }, { "jklmn", 5 },
	};
	struct iovec rv[3] = {
		{ t->vbuf[0], 2 }, { t->vbuf[1], 4 }, { t->vbuf[2], 5 },
	};
	int p[2];

	t->dfd = green_openat(AT_FDCWD, t->dir, O_RDONLY | O_DIRECTORY, 0);
	t->fd = green_openat(t->dfd, "seq", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (t->dfd < 0 || t->fd < 0)
		return;
	/* Writes at the file offset: appended one after the other. */
	t->w[0] = green_write(t->fd, "abc", 3);
	t->w[1] = green_write(t->fd, "def", 3);
	t->w[2] = green_writev(t->fd, wv, 3);
	/* A pwrite does not move the offset. */
	t->w[3] = green_pwrite(t->fd, "X", 1, 0);
	lseek(t->fd, 0, SEEK_SET);
	t->r[0] = green_read(t->fd, t->rb[0], 4);	/* "Xbcd" */
	t->r[1] = green_read(t->fd, t->rb[1], 2);	/* "ef" */
	t->r[2] = green_readv(t->fd, rv, 3);		/* "ghijklmn" */
	t->r[3] = green_read(t->fd, t->rb[2], 4);	/* EOF */
	t->r[4] = green_pread(t->fd, t->rb[3], 3, 3);	/* "def" */
	t->r[5] = green_read(t->fd, t->rb[2], 4);	/* still EOF */
	t->at_eof = lseek(t->fd, 0, SEEK_CUR);
	green_fsync(t->fd);
	green_close(t->fd);
	green_close(t->dfd);
	t->fsync_pipe = -1;
	if (pipe2(p, O_CLOEXEC) == 0) {
		t->fsync_pipe = green_fsync(p[0]);
		close(p[0]);
		close(p[1]);
	}
}

TEST_F(iofile, offset_and_vectors)
{
	static const char *const names[] = { "seq", NULL };
	struct seq t = { .dfd = -1, .fd = -1 };
	struct tmpdir d;

	ASSERT_EQ(0, tmpdir_make(&d));
	strcpy(t.dir, d.path);
	IO_RUN(seq_main, &t);
	ASSERT_GE(t.dfd, 0);
	ASSERT_GE(t.fd, 0);
	EXPECT_EQ(3, t.w[0]);
	EXPECT_EQ(3, t.w[1]);
	EXPECT_EQ(8, t.w[2]);
	EXPECT_EQ(1, t.w[3]);
	EXPECT_EQ(4, t.r[0]);
	EXPECT_EQ(0, memcmp(t.rb[0], "Xbcd", 4));
	EXPECT_EQ(2, t.r[1]);
	EXPECT_EQ(0, memcmp(t.rb[1], "ef", 2));
	EXPECT_EQ(8, t.r[2]);
	EXPECT_EQ(0, memcmp(t.vbuf[0], "gh", 2));
	EXPECT_EQ(0, memcmp(t.vbuf[1], "ijkl", 4));
	EXPECT_EQ(0, memcmp(t.vbuf[2], "mn", 2));
	EXPECT_EQ(0, t.r[3]);
	EXPECT_EQ(3, t.r[4]);
	EXPECT_EQ(0, memcmp(t.rb[3], "def", 3));
	EXPECT_EQ(0, t.r[5]);
	EXPECT_EQ(14, t.at_eof);
	EXPECT_EQ(-EINVAL, t.fsync_pipe);
	tmpdir_remove(&d, names);
}

/* ---- many tasks writing one file, each its own region ---- */

struct region {
	int fd;
	size_t off, len;
	ssize_t err;
	green_wg_t *wg;
};

static void region_writer(void *arg)
{
	struct region *g = arg;
	uint8_t buf[3000];
	size_t done = 0, n;
	ssize_t r;

	while (done < g->len) {
		n = g->len - done < sizeof(buf) ? g->len - done : sizeof(buf);
		pat_fill(buf, n, 555, g->off + done);
		r = green_pwrite(g->fd, buf, n, g->off + done);
		if (r <= 0) {
			g->err = r ? r : -EIO;
			break;
		}
		done += r;
	}
	green_wg_done(g->wg);
}

static void region_checker(void *arg)
{
	struct region *g = arg;
	uint8_t buf[5000];
	size_t done = 0, n;
	ssize_t r;

	while (done < g->len) {
		n = g->len - done < sizeof(buf) ? g->len - done : sizeof(buf);
		r = green_pread(g->fd, buf, n, g->off + done);
		if (r <= 0) {
			g->err = r ? r : -EIO;
			break;
		}
		if (pat_bad(buf, r, 555, g->off + done))
			g->err = -EILSEQ;
		done += r;
	}
	green_wg_done(g->wg);
}

struct regions {
	int fd;
	long n;
	struct region *g;
	green_wg_t wg;
};

static void regions_main(void *arg)
{
	struct regions *t = arg;
	long i;

	for (i = 0; i < t->n; i++) {
		green_wg_add(&t->wg, 1);
		green_go(region_writer, &t->g[i]);
	}
	green_wg_wait(&t->wg);
	for (i = 0; i < t->n; i++) {
		green_wg_add(&t->wg, 1);
		green_go(region_checker, &t->g[i]);
	}
	green_wg_wait(&t->wg);
}

TEST_F(iofile, many_tasks_one_file)
{
	static const char *const names[] = { "regions", NULL };
	struct regions t = { .wg = GREEN_WG_INIT };
	struct tmpdir d;
	char path[128];
	size_t off = 0;
	long i;

	ASSERT_EQ(0, tmpdir_make(&d));
	snprintf(path, sizeof(path), "%s/regions", d.path);
	t.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_GE(t.fd, 0);
	t.n = scaled(256, 16);
	t.g = calloc(t.n, sizeof(*t.g));
	ASSERT_NE(NULL, t.g);
	for (i = 0; i < t.n; i++) {
		t.g[i].fd = t.fd;
		t.g[i].off = off;
		t.g[i].len = 1 + (i * 7919) % 20000;
		t.g[i].wg = &t.wg;
		off += t.g[i].len;
	}
	IO_RUN(regions_main, &t);
	for (i = 0; i < t.n; i++)
		EXPECT_EQ(0, t.g[i].err) TH_LOG("region %ld", i);
	EXPECT_EQ((off_t)off, lseek(t.fd, 0, SEEK_END));
	close(t.fd);
	free(t.g);
	tmpdir_remove(&d, names);
}

/* ---- outside a task: the plain system calls ---- */

TEST(outside_a_task)
{
	static const char *const names[] = { "plain", NULL };
	struct tmpdir d;
	char path[128], buf[8] = { 0 };
	int fd;

	ASSERT_EQ(0, tmpdir_make(&d));
	snprintf(path, sizeof(path), "%s/plain", d.path);
	fd = green_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(5, green_write(fd, "hello", 5));
	EXPECT_EQ(1, green_pwrite(fd, "J", 1, 0));
	EXPECT_EQ(0, green_fsync(fd));
	EXPECT_EQ(5, green_pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "Jello", 5));
	EXPECT_EQ(0, green_read(fd, buf, sizeof(buf)));	/* at EOF */
	EXPECT_EQ(0, green_close(fd));
	EXPECT_EQ(-EEXIST, green_openat(AT_FDCWD, path,
					O_RDWR | O_CREAT | O_EXCL, 0600));
	EXPECT_EQ(-EBADF, green_fsync(fd));
	tmpdir_remove(&d, names);
}

TEST_HARNESS_MAIN
