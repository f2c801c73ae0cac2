# SPDX-License-Identifier: MIT
"""libgreen-gdb.py - gdb commands for libgreen's tasks.

    (gdb) source tools/gdb/libgreen-gdb.py
    (gdb) green tasks       every task: id, state, what it waits on, creator
    (gdb) green bt ID       the backtrace of task ID

Works on a live process and on a core file (gcore), on programs built
with libgreen's debug information (-g; libgreen is built with frame
pointers). A parked task's registers are on its own stack, where
green_ctx_switch (libgreen/src/switch_x86_64.S) pushed them: from g->sp,
MXCSR and the x87 control word, r15, r14, r13, r12, rbx, rbp and the
return address. "green bt" walks the frame-pointer chain from there; a
running task's frames are its worker thread's, which "green bt" shows
with gdb's own unwinder.
"""

import gdb

G_STATE = {"G_FREE": None, "G_RUNNABLE": "runnable",
           "G_RUNNING": "running", "G_WAITING": "waiting"}

# As wait.c's reason_names (Go's words).
REASONS = {
    "WR_NONE": "waiting", "WR_CHAN_SEND": "chan send",
    "WR_CHAN_RECV": "chan receive", "WR_SELECT": "select",
    "WR_SLEEP": "sleep", "WR_IO": "IO wait", "WR_POLL": "poll wait",
    "WR_MUTEX": "sync.Mutex.Lock", "WR_RWMUTEX": "sync.RWMutex.Lock",
    "WR_COND": "sync.Cond.Wait", "WR_SEMA": "semaphore acquire",
    "WR_WAITGROUP": "sync.WaitGroup.Wait", "WR_ONCE": "sync.Once.Do",
    "WR_CONTEXT": "context wait", "WR_ERRGROUP": "errgroup wait",
}

SWITCH_FRAME = 64       # bytes green_ctx_switch keeps below the return


def enum_names(tname):
    """{value: name} of an enum type of the inferior."""
    try:
        t = gdb.lookup_type(tname)
    except gdb.error:
        return {}
    return {int(f.enumval): f.name for f in t.fields()}


def sched_var():
    for expr in ("'sched.c'::sched", "sched"):
        try:
            v = gdb.parse_and_eval(expr)
            if v.type.strip_typedefs().tag == "sched":
                return v
        except gdb.error:
            pass
    raise gdb.GdbError("libgreen's scheduler (struct sched sched) not "
                       "found: no libgreen debug information?")


def read_u64(addr):
    mem = gdb.selected_inferior().read_memory(addr, 8)
    return int.from_bytes(bytes(mem), "little")


def tasks():
    """Every task structure that is a task (not free)."""
    gp = gdb.lookup_type("struct g").pointer()
    status = enum_names("enum g_status")
    c = sched_var()["chunks"]
    while int(c):
        base = c["gs"].address.cast(gp)
        for i in range(int(c["n"])):
            g = (base + i).dereference()
            if G_STATE.get(status.get(int(g["status"]))):
                yield g
        c = c["next"]


def find_task(tid):
    for g in tasks():
        if int(g["id"]) == tid:
            return g
    raise gdb.GdbError("no task %d" % tid)


def symbol(pc, ret=True):
    """'func+0x1c at file.c:12' for a code address (@ret: a return
    address, looked up one byte back, in the call)."""
    look = pc - 1 if ret and pc else pc
    info = gdb.execute("info symbol 0x%x" % look, to_string=True).split()
    if not info or info[0] == "No":
        name = "0x%x" % pc
    elif len(info) > 2 and info[1] == "+":
        name = "%s+0x%x" % (info[0], int(info[2]) + pc - look)
    else:
        name = "%s+0x%x" % (info[0], pc - look)
    sal = gdb.find_pc_line(look)
    if sal.symtab:
        name += " at %s:%d" % (sal.symtab.filename, sal.line)
    return name


def state_of(g):
    status = enum_names("enum g_status").get(int(g["status"]))
    if status == "G_RUNNING":
        m = g["m"]
        if int(m) and int(m["p"]):
            if bool(m["in_syscall"]):
                return "syscall on P %d" % int(m["p"]["id"])
            return "running on P %d" % int(m["p"]["id"])
        return "running"
    if status == "G_RUNNABLE":
        return "runnable" if int(g["stack"]) else "runnable, not started"
    reason = enum_names("enum wait_reason").get(int(g["wreason"]), "")
    text = REASONS.get(reason, reason.lower() or "waiting")
    obj = int(g["wobj"])
    if reason in ("WR_IO", "WR_POLL") and obj:
        op = g["wobj"].cast(gdb.lookup_type("struct io_op").pointer())
        kind = str(op["kind"]).replace("IO_", "").lower()
        text += " (%s) on fd %d" % (kind, int(op["fd"]))
    elif obj:
        text += " on 0x%x" % obj
    return text


def created(g):
    pc = int(g["created_pc"])
    by = int(g["created_by"])
    if not pc:
        return "green_run" if int(g["id"]) == 1 else "?"
    where = symbol(pc)
    return ("task %d at %s" % (by, where)) if by else \
        ("a thread outside the tasks at %s" % where)


def parked_frames(g):
    """Return addresses of a parked task, from its saved context."""
    sp = int(g["sp"])
    stack = g["stack"]
    lo = int(stack["lo"].cast(gdb.lookup_type("unsigned long")))
    hi = lo + int(stack["size"])
    if sp & 7 or sp < lo or sp + SWITCH_FRAME > hi:
        return []
    pcs = [read_u64(sp + 56)]
    fp = read_u64(sp + 48)
    low = sp + SWITCH_FRAME
    while len(pcs) < 64 and not fp & 7 and low <= fp < hi - 16:
        ret = read_u64(fp + 8)
        if not ret:
            break
        pcs.append(ret)
        nxt = read_u64(fp)
        if nxt <= fp:
            break
        fp = nxt
    return pcs


def thread_of(m):
    """The gdb thread of worker @m (matched on pthread_t), or None."""
    want = int(m["thread"])
    for t in gdb.selected_inferior().threads():
        try:
            if int.from_bytes(t.handle(), "little") == want:
                return t
        except (AttributeError, gdb.error, RuntimeError):
            return None
    return None


class Green(gdb.Command):
    """libgreen tasks: "green tasks", "green bt ID"."""

    def __init__(self):
        super().__init__("green", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


class GreenTasks(gdb.Command):
    """List every libgreen task: id, state or wait reason, creator."""

    def __init__(self):
        super().__init__("green tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        n = 0
        for g in sorted(tasks(), key=lambda t: int(t["id"])):
            gdb.write("task %d [%s] created by %s\n" %
                      (int(g["id"]), state_of(g), created(g)))
            n += 1
        gdb.write("%d tasks\n" % n)


class GreenBt(gdb.Command):
    """Backtrace of libgreen task ID: green bt ID."""

    def __init__(self):
        super().__init__("green bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            tid = int(arg.split()[0])
        except (IndexError, ValueError):
            raise gdb.GdbError("usage: green bt ID")
        g = find_task(tid)
        gdb.write("task %d [%s]:\n" % (tid, state_of(g)))
        status = enum_names("enum g_status").get(int(g["status"]))
        if status == "G_RUNNING":
            t = thread_of(g["m"])
            if not t:
                gdb.write("  running: its frames are its worker thread's "
                          "(info threads, thread N, bt)\n")
                return
            old = gdb.selected_thread()
            gdb.write("  running on gdb thread %d:\n" % t.num)
            t.switch()
            try:
                gdb.execute("bt")
            finally:
                old.switch()
            return
        if not int(g["stack"]) or not int(g["sp"]):
            gdb.write("  not started: starts at %s\n" %
                      symbol(int(g["fn"]), ret=False))
            return
        for i, pc in enumerate(parked_frames(g)):
            gdb.write("#%-2d 0x%016x in %s\n" % (i, pc, symbol(pc)))
        gdb.write("created by %s\n" % created(g))


Green()
GreenTasks()
GreenBt()
