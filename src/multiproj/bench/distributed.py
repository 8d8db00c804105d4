"""Distributed projections: communication volume, 2 gloo ranks vs 1 process, and a
Dask run on an array several times larger than a memory limit.

    python benchmarks/bench_distributed.py [--repeat 7] [--dask-gb 4 --limit-gb 1]
    python benchmarks/bench_distributed.py --only dask      # or: comm, time

1. **Communication**: bytes that one call of :func:`multiproj.distributed.project` moves
   (its header and the group norms, counted by ``CommStats``) for growing tensors, 2 gloo
   ranks, groups = columns (``axis=0``), shards splitting the groups (``shard_axis=1``) or
   splitting inside them (``shard_axis=0``).
2. **Time**: median wall time of the projection of a 1000 x 8000 float64 matrix, 2 gloo
   ranks (1 Numba thread each, the slowest rank counted) vs 1 process (1 and 2 threads),
   as ratios to ``Y.copy()`` of the full matrix timed in the same run.
3. **Dask**: an array of ``--dask-gb`` GiB generated lazily (``da.random``) projected in a
   child process whose address space is capped at ``--limit-gb`` GiB
   (``resource.setrlimit(RLIMIT_AS)``: virtual memory, a stricter cap than resident memory);
   the child computes the norm of the result and the number of selected columns, and
   reports its peak resident memory (``ru_maxrss``).  The same run with
   ``compute_radii=False`` (one lazy graph that keeps every chunk) is expected to fail
   under the cap.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import numpy as np

import multiproj

from .baselines import median_time
from .report import print_machine

BALLS = ("l1,inf", "l1,2", "l1,1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _radius(y, ball):
    return 0.2 * multiproj.norm(y, ball, axis=0)


# --------------------------------------------------------------------------- gloo workers
def _worker(rank, world, port, task, args, queue):
    import torch
    import torch.distributed as dist

    from multiproj import distributed as mpd

    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    multiproj.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=600))
    rows = []
    try:
        if task == "comm":
            for n, m in args["sizes"]:
                y = np.random.default_rng(0).standard_normal((n, m))
                for ball in BALLS:
                    r = _radius(y, ball)
                    for sa in (1, 0):
                        shard = torch.from_numpy(np.array_split(y, world, axis=sa)[rank].copy())
                        with mpd.CommStats() as st:
                            mpd.project(shard, r, ball, axis=0, shard_axis=sa)
                        rows.append((n, m, ball, sa, y.nbytes, st.bytes_header, st.bytes_norms,
                                     st.collectives, st.iterations))
        else:
            n, m = args["shape"]
            y = np.random.default_rng(0).standard_normal((n, m))
            for ball in BALLS:
                r = _radius(y, ball)
                for sa in (1, 0):
                    shard = torch.from_numpy(np.array_split(y, world, axis=sa)[rank].copy())
                    times = []
                    for k in range(args["repeat"] + 2):
                        dist.barrier()
                        t0 = time.perf_counter()
                        mpd.project(shard, r, ball, axis=0, shard_axis=sa)
                        dt = torch.tensor([time.perf_counter() - t0])
                        dist.all_reduce(dt, op=dist.ReduceOp.MAX)  # the slowest rank
                        if k >= 2:
                            times.append(float(dt))
                    rows.append((ball, sa, float(np.median(times))))
        if rank == 0:
            queue.put(rows)
        dist.barrier()  # no rank closes its gloo connections while a peer's last send is in flight
    finally:
        dist.destroy_process_group()
        gc.collect()  # free gloo's objects while the interpreter is alive (see tests/test_distributed.py)


def _spawn(task, args, world=2):
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.spawn(_worker, args=(world, _free_port(), task, args, queue), nprocs=world, join=True)
    return queue.get()


def bench_comm():
    print("\n## 1. Communication per projection (2 gloo ranks, groups = columns, axis=0)")
    sizes = [(500, 1000), (500, 4000), (500, 16000), (2000, 16000)]
    rows = _spawn("comm", {"sizes": sizes})
    print(f"{'n x m':>12} {'ball':>7} {'shards split':>13} {'tensor':>10} {'header':>8} "
          f"{'norms':>9} {'norms/tensor':>12} {'collectives':>11} {'l1 iters':>8}")
    for n, m, ball, sa, nb, bh, bn, nc, it in rows:
        case = "groups" if sa == 1 else "inside"
        print(f"{n:>5} x {m:<5} {ball:>7} {case:>13} {nb / 2**20:>8.1f}MB {bh:>7}B {bn:>8}B "
              f"{bn / nb:>12.2e} {nc:>11} {it:>8}")
    print("(bytes of this rank's collective buffers; 'groups': all_gather of 2 x m/2 float64 norms;"
          " 'inside': all_reduce of m float64 norms, plus 2 floats per unfinished group per"
          " l1 threshold iteration for l1,1)")


def bench_time(repeat: int):
    print("\n## 2. Time: 2 gloo ranks vs 1 process, 1000 x 8000 float64, groups = columns")
    shape = (1000, 8000)
    y = np.random.default_rng(0).standard_normal(shape)
    t_copy = median_time(y.copy, repeat=repeat)
    single = {}
    for threads in (1, 2):
        with multiproj.num_threads(min(threads, multiproj.max_threads())):
            for ball in BALLS:
                r = _radius(y, ball)
                single[ball, threads] = median_time(
                    lambda: multiproj.project(y, r, ball, method="bilevel", axis=0), repeat=repeat)
    rows = _spawn("time", {"shape": shape, "repeat": repeat})
    print(f"Y.copy() of the full matrix: {t_copy * 1e3:.1f} ms (reference)")
    print(f"{'ball':>7} {'1 proc 1 thr':>13} {'1 proc 2 thr':>13} {'2 ranks, groups split':>22} "
          f"{'2 ranks, inside groups':>23}")
    res = {(b, sa): t for b, sa, t in rows}
    for ball in BALLS:
        cells = [single[ball, 1], single[ball, 2], res[ball, 1], res[ball, 0]]
        print(f"{ball:>7} " + " ".join(
            f"{t * 1e3:>7.1f}ms {t / t_copy:>4.1f}x".rjust(w) for t, w in zip(cells, (13, 13, 22, 23))))
    print("(ratios: time / Y.copy(); 2-rank times are the slowest rank, median; each rank "
          "uses 1 Numba thread; all processes share this machine's cores)")


# --------------------------------------------------------------------------- dask child
_DASK_CHILD = r"""
import resource, sys, time
gb, limit_gb, compute_radii = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
cap = int(limit_gb * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np, dask, dask.array as da, multiproj, multiproj.dask as mpdask
multiproj.project(np.ones((8, 8)), 1.0, "l1,inf", method="bilevel")   # JIT warm-up
n = 4096
m = int(gb * 2**30 / 8 / n)
Y = da.random.default_rng(0).standard_normal((n, m), chunks=(1024, 4096))   # 32 MiB chunks
t0 = time.perf_counter()
try:
    X = mpdask.project(Y, 1000.0, "l1,inf", axis=0, compute_radii=compute_radii)
    norm = mpdask.group_norms(X, "l1,inf", axis=0).sum()
    kept = (abs(X).max(axis=0) > 0).sum()
    with dask.config.set(scheduler="threads", num_workers=2):
        norm, kept = da.compute(norm, kept)
    status = f"ok: ||X||_1,inf = {norm:.6f} (radius 1000), {kept} of {m} columns kept"
except MemoryError as e:
    status = f"MemoryError ({str(e)[:60]})"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"RESULT|{n * m * 8 / 2**30:.2f}|{time.perf_counter() - t0:.1f}|{peak:.2f}|{status}")
"""


def bench_dask(gb: float, limit_gb: float, lazy_too: bool):
    print(f"\n## 3. Dask: {gb:g} GiB float64 array (generated lazily) under a {limit_gb:g} GiB "
          "address-space cap (RLIMIT_AS), threaded scheduler, 2 workers, 32 MiB chunks")
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "PYTHONWARNINGS": "ignore"}
    for cr in ([True, False] if lazy_too else [True]):
        p = subprocess.run([sys.executable, "-c", _DASK_CHILD, str(gb), str(limit_gb), str(int(cr))],
                           capture_output=True, text=True, env=env)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT|")]
        if not line:
            print(f"compute_radii={cr}: child failed (rc {p.returncode}): {p.stderr.strip()[-300:]}")
            continue
        _, size, secs, peak, status = line[0].split("|", 4)
        print(f"compute_radii={cr!s:5}: array {size} GiB, {secs} s, peak RSS {float(peak):.2f} GiB "
              f"({float(peak) / limit_gb:.0%} of the cap, array/cap = {float(size) / limit_gb:.1f}x): {status}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--dask-gb", type=float, default=4.0)
    ap.add_argument("--limit-gb", type=float, default=1.0)
    ap.add_argument("--no-lazy", action="store_true", help="skip the compute_radii=False run")
    ap.add_argument("--only", choices=["comm", "time", "dask"])
    a = ap.parse_args(argv)
    print_machine()
    print(f"load average: {os.getloadavg()}")
    if a.only in (None, "comm"):
        bench_comm()
    if a.only in (None, "time"):
        bench_time(a.repeat)
    if a.only in (None, "dask"):
        bench_dask(a.dask_gb, a.limit_gb, not a.no_lazy)
    return 0

