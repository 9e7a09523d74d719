"""Runs a command and prints `wall_seconds peak_rss_kib exit_status` (peak RSS from wait4, the child's own maximum).

With `--cpu` before `--`, a fourth field: the child's CPU seconds (user + system, from the same wait4)."""
import os, sys, time

args = sys.argv[sys.argv.index("--") + 1:]
cpu = "--cpu" in sys.argv[:sys.argv.index("--")]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.execvp(args[0], args)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
line = f"{wall:.3f} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}"
if cpu:
    line += f" {usage.ru_utime + usage.ru_stime:.3f}"
print(line)
