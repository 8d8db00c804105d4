"""Benchmark of the multi-level projection of tensors (Perez and Barlaud,
arXiv:2405.02086, section 4): parts (a) and (b) of :mod:`multiproj.bench.multilevel`, and
the per-pass table of part (b), which times the passes of the CPU backend one by one (it
reads the backend's stages, so it lives here and not in the package's integration layer).

Usage::

    python benchmarks/bench_multilevel.py [--log2-size 24] [--repeats 15] [--threads 1 2]
        [--rounds 3] [--families inf mixed] [--levels-order 2 3 4 6]

Every time is a median over ``--repeats`` calls after two warm-up calls (JIT compiled).
"""

from __future__ import annotations

import sys

import numpy as np

import multiproj
from multiproj._core.ball import parse_ball
from multiproj._core.checks import check_levels
from multiproj._core.threads import SERIAL_BELOW, serial_if_small
from multiproj._cpu import multilevel as backend
from multiproj._cpu.groups import finite_group_norms, outer_l1
from multiproj._cpu.layout import to_keepdims
from multiproj.bench import multilevel
from multiproj.bench.baselines import median_time, tensor_shape


def stage_label(st, levels, k) -> str:
    if st.fused:
        return f"levels {k - 1}+{k} (fused, reads y)"
    lvl = levels.index(st.red) + 1
    return f"level {lvl}" + (" (reads y)" if lvl == k else "")


def bench_levels(Y, log2_size, threads, repeats, order):
    """Time every pass of one projection separately (same calls as project_multilevel)."""
    k = order
    y = Y.reshape(tensor_shape(log2_size, k))
    ball = parse_ball("l1" + ",inf" * (k - 1))
    levels = check_levels(None, k, ball)
    radius = 0.5 * multiproj.norm(y, ball.name, levels=levels)
    stages = backend.multilevel_stages(y, ball, levels)
    # radii of every stage, as computed by project_multilevel
    radii = [None] * len(stages)
    u, _ = outer_l1(stages[-1].vc, radius)
    radii[-1] = u
    targets = [None] * len(stages)
    for j in range(len(stages) - 1, 0, -1):
        prev = stages[j - 1]
        u_next = np.empty_like(prev.vc)
        targets[j] = to_keepdims(prev.lay, u_next, prev.red)
        backend._project_stage_into(stages[j], targets[j], radii[j])
        radii[j - 1] = u_next
    out = np.empty_like(y)
    targets[0] = out

    def agg(st):
        if st.fused:
            v = np.empty(st.x3.shape[:2])
            w = np.empty(st.x3.shape[0])
            return lambda: backend.fused_norms(st.x3, st.qn, st.qm, v, w)
        def run():
            with serial_if_small(st.xc.size):
                finite_group_norms(st.xc, st.q)

        return run

    rows = []
    for j, st in enumerate(stages):
        entries = st.x3.size if st.fused else st.xc.size
        fibres = st.v.size if st.fused else st.vc.size
        name = stage_label(st, levels, k)
        for kind, fn in (
            ("aggregate", agg(st)),
            ("project", lambda st=st, j=j: backend._project_stage_into(st, targets[j], radii[j])),
        ):
            times = {}
            for n in threads:
                with multiproj.num_threads(n):
                    times[n] = median_time(fn, repeats)
            rows.append({"stage": name, "pass": kind, "entries": entries, "fibres": fibres,
                         "serial": fibres == 1 or entries < SERIAL_BELOW, **times})
    t_outer = median_time(lambda: outer_l1(stages[-1].vc, radius), repeats)
    rows.append({"stage": "level 1 (l1 of V_1)", "pass": "project", "entries": stages[-1].vc.size,
                 "fibres": 1, "serial": True, **{n: t_outer for n in threads}})
    return rows


def main(argv=None) -> int:
    return multilevel.main(argv, per_pass=bench_levels)


if __name__ == "__main__":
    sys.exit(main())
