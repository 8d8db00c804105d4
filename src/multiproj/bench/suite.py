"""The sub-benchmarks of ``multiproj bench``: each one turns a :class:`Config` into a list
of :class:`Case` objects whose ``run()`` returns table rows (plain dicts).

Timing protocol: every timed function is called once to warm up (Numba
compilation, first-touch page faults), then all functions of a case, *including the
reference* ``Y.copy()`` of the same array, take turns ``repeats`` times, so that they see
the same machine load; the median is reported, with the ratio to the copy.  At each turn a
function is called twice and only the second call is timed: the timed call then finds the
memory allocator and the caches as the same function's previous call left them, as in a
user's loop, not as another method left them.  (Timing the first call instead made the
same work cost up to 5 x more or less depending on which method ran just before: a result
placed in freshly mapped pages costs about one extra copy on this machine, and which
allocations get fresh pages depends on what the previous calls allocated and freed.)

The (method, ball) pairs come from the registry :data:`multiproj.METHODS` (``Method.supports``);
the only method that is not in the registry is the naive NumPy bi-level l1,inf baseline
(:func:`naive_bilevel_l1inf`), labelled ``naive-numpy``.  A pair whose solver raises
``NotImplementedError`` (or whose backend cannot be imported) is reported as ``n/a``.

Groups: for matrices the groups are the columns (the authors' protocol [BLP]: the inner
norm reduces axis 0, ``axis=0``; multi-level methods get ``levels=(1, 0)``); for tensors the
groups are the slices along axis 0.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .baselines import naive_bilevel_l1inf, radius_zeroing, tensor_shape

__all__ = [
    "Config",
    "FULL",
    "QUICK",
    "Case",
    "Benchmark",
    "BENCHMARKS",
    "method_ball_pairs",
    "naive_bilevel_l1inf",
    "radius_zeroing",
    "tensor_shape",
    "plan",
    "run_benchmarks",
]

NAIVE = "naive-numpy"  # label of the baseline that is not in the registry


# --------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Config:
    """Sizes and repeats of every sub-benchmark (see :data:`FULL` and :data:`QUICK`)."""

    repeats: int = 10
    seed: int = 0
    # sizes: the authors' protocol, n x m
    sizes_n: int = 1000
    sizes_m: tuple[int, ...] = (1000, 2000, 4000, 6000, 8000)
    sizes_balls: tuple[str, ...] = ("l1,inf", "l1,1", "l1,2", "l1")
    sizes_data: tuple[str, ...] = ("uniform", "normal")
    # threads: a matrix (groups = columns) and a tensor (groups = axis 0)
    threads_shape: tuple[int, int] = (1000, 8000)
    threads_tensor: tuple[int, ...] = (256, 256, 256)
    threads_counts: tuple[int, ...] | None = None  # None: 1, 2, 4, ..., max
    # tensors: 2**tensor_log2 entries shaped as each order
    tensor_log2: int = 24
    tensor_orders: tuple[int, ...] = (2, 3, 4, 6)
    # sparsity: radius sweep as fractions of ||Y||
    sparsity_shape: tuple[int, int] = (1000, 1000)
    sparsity_fractions: tuple[float, ...] = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    sparsity_data: tuple[str, ...] = ("normal", "uniform")
    # torch
    torch_shape: tuple[int, int] = (1000, 8000)
    torch_dtypes: tuple[str, ...] = ("float64", "float32")
    torch_balls: tuple[str, ...] = ("l1,inf", "l1,1", "l1,2", "l1")
    # targets: the reference workloads of WORKLOADS (``m`` of the 1000 x m rows)
    targets_m: tuple[int, ...] = (1000, 2000, 4000, 8000)
    # contention: 1 thread against every thread, with that many busy processes beside
    contention_busy: tuple[int, ...] = (0, 2)
    contention_n: int = 1000
    contention_m: tuple[int, ...] = (1000, 4000, 10000)
    contention_tensor: int = 128
    # autograd: forward, forward recording the graph, backward (1 thread, float64)
    autograd_shape: tuple[int, int] = (1000, 10000)
    autograd_fraction: float = 0.1
    autograd_cases: tuple[tuple[str, str], ...] = (("l1,inf", "bilevel"), ("l1,inf", "exact"), ("l1", "exact"))
    # multilevel: 2**multilevel_log2 uniform entries as each order, ratio to the copy
    multilevel_log2: int = 24
    multilevel_orders: tuple[int, ...] = (2, 3, 4, 6)
    multilevel_families: tuple[str, ...] = ("inf", "mixed")

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


FULL = Config()
QUICK = Config(
    repeats=3,
    sizes_m=(1000, 2000, 4000),
    threads_shape=(1000, 4000),
    threads_tensor=(128, 128, 128),
    tensor_log2=20,
    sparsity_shape=(500, 500),
    sparsity_fractions=(0.001, 0.01, 0.05, 0.2, 0.5),
    torch_shape=(1000, 2000),
    torch_dtypes=("float64",),  # float64 only: reuses the kernels compiled by the other parts
    targets_m=(1000, 4000),
    contention_m=(1000, 4000),
    autograd_shape=(200, 2000),
    multilevel_log2=18,
)


@dataclass
class Case:
    """One unit of work (one progress step): ``run()`` returns a list of row dicts."""

    label: str
    run: Callable[[], list[dict]]


@dataclass
class Benchmark:
    name: str
    description: str
    cases: Callable[[Config], list[Case]]
    finalize: Callable[[list[dict]], list[dict]] | None = None
    columns: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- helpers
def method_ball_pairs(balls) -> list[tuple[object, object]]:
    """``(Method, Ball)`` for every registered method and every ball of ``balls`` it
    supports, in registry order: the single source of method names."""
    from .. import METHODS
    from .._core.ball import parse_ball

    parsed = [parse_ball(b) for b in balls]
    return [(m, b) for m in METHODS.values() for b in parsed if m.supports(b)]


def _kwargs(method, ball, ndim: int, outer: int) -> dict:
    """Keyword arguments that make ``method`` use the groups indexed by axis ``outer``."""
    if ball.is_flat:
        return {}
    inner = tuple(a for a in range(ndim) if a != outer)
    if method.min_order is not None:  # multi-level methods: one entry of `levels` per level
        if ball.order == ndim:
            return {"levels": (outer, *inner)}
        return {"levels": (outer, inner if len(inner) > 1 else inner[0])}
    return {"axis": inner if len(inner) > 1 else inner[0]}


def _zero_groups(x, ball, outer: int) -> float:
    x = _to_numpy(x)
    if ball.is_flat:
        return float((x == 0).mean())
    g = np.moveaxis(x, outer, 0).reshape(x.shape[outer], -1)
    return float((~g.any(axis=1)).mean())


def _to_numpy(x) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def time_round_robin(fns: dict, repeats: int):
    """Warm up, then time ``fns`` (name -> callable) in turns, the second of two calls at
    each turn (see the module docstring); return ``(median seconds, warm-up outputs,
    notes)``.  A function that raises at warm-up gets no
    time and a note: ``n/a`` for ``NotImplementedError`` or a missing backend, else the
    error."""
    outputs, notes, alive = {}, {}, {}
    for name, fn in fns.items():
        try:
            outputs[name] = fn()
            alive[name] = fn
        except (NotImplementedError, ImportError) as exc:
            notes[name] = f"n/a ({type(exc).__name__})"
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
            notes[name] = f"error: {type(exc).__name__}: {exc}"[:200]
    samples = {name: [] for name in alive}
    for _ in range(max(1, repeats)):
        for name, fn in alive.items():
            fn()  # settle: the timed call follows a call of the same function
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}, outputs, notes


def _threads_now() -> int:
    from .. import get_num_threads

    return get_num_threads()


def _rng(cfg: Config, salt: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, salt])


def _shape_str(shape) -> str:
    return "x".join(str(s) for s in shape)


def _timed_rows(bench: str, y: np.ndarray, jobs, outer: int, repeats: int, extra: dict) -> list[dict]:
    """Time ``y.copy()`` and every job ``(method_label, ball, radius, fn)``; one row each."""
    fns = {"copy": y.copy}
    for label, ball, radius, fn in jobs:
        fns[(label, ball.name)] = fn
    med, outs, notes = time_round_robin(fns, repeats)
    copy_s = med.get("copy")
    threads = _threads_now()
    rows = []
    for label, ball, radius, _ in jobs:
        key = (label, ball.name)
        t = med.get(key)
        rows.append(
            {
                "bench": bench,
                **extra,
                "shape": _shape_str(y.shape),
                "dtype": str(y.dtype),
                "method": label,
                "ball": ball.name,
                "radius": radius,
                "threads": threads,
                "time_ms": None if t is None else 1e3 * t,
                "copy_ms": None if copy_s is None else 1e3 * copy_s,
                "ratio": None if t is None or not copy_s else t / copy_s,
                "zero_groups": _zero_groups(outs[key], ball, outer) if key in outs else None,
                "note": notes.get(key, "baseline, not in the registry" if label == NAIVE else ""),
            }
        )
    return rows


def _jobs(y, pairs, radius_of, outer: int, naive: bool = False):
    from .. import project
    from .._core.ball import parse_ball

    jobs = []
    for m, ball in pairs:
        r = radius_of(ball)
        kw = _kwargs(m, ball, y.ndim, outer)
        jobs.append((m.name, ball, r, lambda m=m, b=ball, r=r, kw=kw: project(y, r, b.name, method=m.name, **kw)))
    if naive and outer == 1 and y.ndim == 2:
        b = parse_ball("l1,inf")
        r = radius_of(b)
        jobs.append((NAIVE, b, r, lambda r=r: naive_bilevel_l1inf(y, r)))
    return jobs


# --------------------------------------------------------------------------- sizes
def _sizes_data(cfg: Config, kind: str, m: int) -> np.ndarray:
    rng = _rng(cfg, m + (0 if kind == "uniform" else 1))
    if kind == "uniform":
        return rng.random((cfg.sizes_n, m))
    return rng.standard_normal((cfg.sizes_n, m))


def _cases_sizes(cfg: Config) -> list[Case]:
    pairs = method_ball_pairs(cfg.sizes_balls)
    cases = []
    for kind in cfg.sizes_data:
        for m in cfg.sizes_m:

            def run(kind=kind, m=m):
                y = _sizes_data(cfg, kind, m)
                if kind == "uniform":  # the authors' protocol: radius 1
                    radius_of = lambda ball: 1.0  # noqa: E731
                    what = "uniform [0,1), radius 1"
                else:
                    radius_of = lambda ball: radius_zeroing(y, ball, 0.5)  # noqa: E731
                    what = "normal, radius zeroing 50% of the bi-level groups"
                jobs = _jobs(y, pairs, radius_of, outer=1, naive="l1,inf" in cfg.sizes_balls)
                return _timed_rows("sizes", y, jobs, 1, cfg.repeats, {"data": what, "n": y.shape[0], "m": m})

            cases.append(Case(f"sizes {kind} {cfg.sizes_n}x{m}", run))
    return cases


# --------------------------------------------------------------------------- threads
def _thread_counts(cfg: Config) -> list[int]:
    from .. import max_threads

    top = max_threads()
    if cfg.threads_counts is not None:
        return [n for n in cfg.threads_counts if 1 <= n <= top] or [1]
    counts, n = [], 1
    while n < top:
        counts.append(n)
        n *= 2
    return counts + [top]


def _cases_threads(cfg: Config) -> list[Case]:
    from .. import num_threads
    from .._core.ball import parse_ball

    cache: dict = {}

    def data(key):
        if key not in cache:
            shape = cfg.threads_shape if key == "matrix" else cfg.threads_tensor
            cache[key] = _rng(cfg, 100 + len(shape)).standard_normal(shape)
        return cache[key]

    setups = [("matrix", "l1,inf", 1)]
    k = len(cfg.threads_tensor)
    setups.append(("tensor", "l1" + ",inf" * (k - 1), 0))
    cases = []
    for key, ball_name, outer in setups:
        pairs = method_ball_pairs([ball_name])
        if key == "tensor":  # the multi-level kernels: methods that take an order-k ball
            pairs = [(m, b) for m, b in pairs if b.order > 2]
        if not pairs:
            continue
        for n in _thread_counts(cfg):

            def run(key=key, ball_name=ball_name, outer=outer, pairs=pairs, n=n):
                y = data(key)
                radius = radius_zeroing(y, parse_ball(ball_name), 0.5, outer)
                jobs = _jobs(y, pairs, lambda b: radius, outer)
                with num_threads(n):
                    return _timed_rows("threads", y, jobs, outer, cfg.repeats, {"data": f"normal {key}, 50% zero groups"})

            cases.append(Case(f"threads {key} n={n}", run))
    return cases


def _finalize_threads(rows: list[dict]) -> list[dict]:
    """Speedup = time with 1 thread / time with n threads, per (shape, method, ball)."""
    base = {}
    for r in rows:
        if r["threads"] == 1 and r["time_ms"]:
            base[(r["shape"], r["method"], r["ball"])] = r["time_ms"]
    for r in rows:
        t1 = base.get((r["shape"], r["method"], r["ball"]))
        r["speedup"] = t1 / r["time_ms"] if t1 and r["time_ms"] else None
    return rows


# --------------------------------------------------------------------------- tensors
def _cases_tensors(cfg: Config) -> list[Case]:
    from .. import max_threads, num_threads
    from .._core.ball import parse_ball

    counts = sorted({1, max_threads()})
    cases = []
    for k in cfg.tensor_orders:
        shape = tensor_shape(cfg.tensor_log2, k)
        ball = parse_ball("l1" + ",inf" * (k - 1))
        pairs = method_ball_pairs([ball.name])
        for n in counts:

            def run(k=k, shape=shape, ball=ball, pairs=pairs, n=n):
                y = _rng(cfg, 200 + k).standard_normal(shape)
                radius = radius_zeroing(y, ball, 0.5, outer=0)
                jobs = _jobs(y, pairs, lambda b: radius, outer=0)
                extra = {"data": "normal, 50% zero groups (axis-0 slices)", "order": k}
                with num_threads(n):
                    return _timed_rows("tensors", y, jobs, 0, cfg.repeats, extra)

            cases.append(Case(f"tensors order {k} {_shape_str(shape)} threads={n}", run))
    return cases


# --------------------------------------------------------------------------- sparsity
def _cases_sparsity(cfg: Config) -> list[Case]:
    from .. import norm, project
    from .._core.ball import parse_ball

    ball = parse_ball("l1,inf")
    pairs = method_ball_pairs([ball.name])
    cache: dict = {}

    def data(kind):
        if kind not in cache:
            rng = _rng(cfg, 300)
            y = rng.standard_normal(cfg.sparsity_shape) if kind == "normal" else rng.random(cfg.sparsity_shape)
            cache[kind] = (y, norm(y, ball.name, axis=0), float(np.linalg.norm(y)))
        return cache[kind]

    cases = []
    for kind, frac in [(k, f) for k in cfg.sparsity_data for f in cfg.sparsity_fractions]:

        def run(kind=kind, frac=frac):
            y, ny, fro = data(kind)
            radius = frac * ny
            rows = []
            for m, b in pairs:
                kw = _kwargs(m, b, 2, 1)
                row = {
                    "bench": "sparsity",
                    "data": "normal" if kind == "normal" else "uniform [0,1)",
                    "shape": _shape_str(y.shape),
                    "dtype": str(y.dtype),
                    "method": m.name,
                    "ball": b.name,
                    "radius_fraction": frac,
                    "radius": radius,
                    "zero_groups": None,
                    "rel_dist_fro": None,
                    "residual_norm": None,
                    "projection_norm": None,
                    "identity_error": None,
                    "note": "",
                }
                try:
                    t0 = time.perf_counter()
                    x = project(y, radius, b.name, method=m.name, **kw)
                    row["time_ms"] = 1e3 * (time.perf_counter() - t0)
                except (NotImplementedError, ImportError) as exc:
                    row["note"] = f"n/a ({type(exc).__name__})"
                    rows.append(row)
                    continue
                except Exception as exc:  # noqa: BLE001
                    row["note"] = f"error: {type(exc).__name__}: {exc}"[:200]
                    rows.append(row)
                    continue
                # ||Y - P||/||Y|| and ||P||/||Y|| in the ball's norm: the additive identity
                # ||Y - P|| + ||P|| = ||Y|| puts the point on the line x + y = 1.
                res = norm(y - x, b.name, axis=0) / ny
                prj = norm(x, b.name, axis=0) / ny
                row.update(
                    zero_groups=_zero_groups(x, b, 1),
                    rel_dist_fro=float(np.linalg.norm(y - x)) / fro,
                    residual_norm=res,
                    projection_norm=prj,
                    identity_error=abs(res + prj - 1.0),
                )
                rows.append(row)
            return rows

        cases.append(Case(f"sparsity {kind} radius {frac:.1%} of the norm", run))
    return cases


# --------------------------------------------------------------------------- torch
def _cases_torch(cfg: Config) -> list[Case]:
    try:
        import torch
    except ImportError:
        return [Case("torch (not installed)", lambda: [{"bench": "torch", "note": "n/a: torch is not installed"}])]
    from .. import project
    from .._core.ball import parse_ball

    pairs = method_ball_pairs(cfg.torch_balls)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cases = []
    for dtype in cfg.torch_dtypes:
        for device in devices:

            def run(dtype=dtype, device=device):
                y = _rng(cfg, 400).standard_normal(cfg.torch_shape).astype(dtype)
                t = torch.from_numpy(y).to(device)
                radii = {b.name: radius_zeroing(y, b, 0.5) for _, b in pairs}
                sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

                def on_tensor(m, b, kw):
                    def fn():
                        out = project(t, radii[b.name], b.name, method=m.name, **kw)
                        sync()
                        return out

                    return fn

                def clone():
                    c = t.clone()
                    sync()
                    return c

                fns = {"copy": clone}
                for m, b in pairs:
                    kw = _kwargs(m, b, 2, 1)
                    fns[("torch", m.name, b.name)] = on_tensor(m, b, kw)
                    fns[("numpy", m.name, b.name)] = lambda m=m, b=b, kw=kw: project(y, radii[b.name], b.name, method=m.name, **kw)
                med, outs, notes = time_round_robin(fns, cfg.repeats)
                rows = []
                for m, b in pairs:
                    kt, kn = ("torch", m.name, b.name), ("numpy", m.name, b.name)
                    tt, tn, tc = med.get(kt), med.get(kn), med.get("copy")
                    diff = None
                    if kt in outs and kn in outs:
                        diff = float(np.max(np.abs(_to_numpy(outs[kt]).astype(np.float64) - outs[kn]), initial=0.0))
                    rows.append(
                        {
                            "bench": "torch",
                            "data": "normal, radius zeroing 50% of the bi-level groups",
                            "shape": _shape_str(y.shape),
                            "dtype": dtype,
                            "device": device,
                            "method": m.name,
                            "ball": b.name,
                            "radius": radii[b.name],
                            "threads": _threads_now(),
                            "time_ms": None if tt is None else 1e3 * tt,
                            "copy_ms": None if tc is None else 1e3 * tc,
                            "ratio": None if tt is None or not tc else tt / tc,
                            "numpy_ms": None if tn is None else 1e3 * tn,
                            "vs_numpy": None if tt is None or not tn else tt / tn,
                            "max_abs_diff": diff,
                            "zero_groups": _zero_groups(outs[kt], b, 1) if kt in outs else None,
                            "note": notes.get(kt, ""),
                        }
                    )
                return rows

            cases.append(Case(f"torch {device} {dtype} {_shape_str(cfg.torch_shape)}", run))
    return cases


# --------------------------------------------------------------------------- targets
# Reference workloads (float64, seed 0, one thread, groups = columns) with the ratio to
# Y.copy() of the fastest other library measured on them side by side on the project's
# machine kind (the authors' C++ library, spams and fastprox), and the goal: 1.15 x faster.
PEER_SPEEDUP = 1.15
WORKLOADS: tuple[dict, ...] = (
    {"name": "l1 1e6 N(0,1), radius 1", "peer": 2.50, "peer_sort": 0.025},
    {"name": "bi-level l1,inf 1000x10000 N(0,1), radius zeroing 50%", "peer": 2.22},
    {"name": "bi-level l1,inf 1000x10000 N(0,1), C=76.478", "peer": 2.17},
    *({"name": f"bi-level l1,inf U[0,1) 1000x{m}, radius 1", "peer": p}
      for m, p in ((1000, 2.60), (2000, 2.00), (4000, 1.70), (8000, 1.61))),
    *({"name": f"exact l1,inf U[0,1) 1000x{m}, radius 1", "peer": p}
      for m, p in ((1000, 7.8), (2000, 4.6), (4000, 2.9), (8000, 2.3))),
)


def _workload_rows(name: str, y: np.ndarray, fn, repeats: int, peer: float, extra_ref=None) -> list[dict]:
    fns = {"copy": y.copy, "call": fn}
    if extra_ref is not None:
        fns["sort"] = extra_ref[1]
    med, _, notes = time_round_robin(fns, repeats)
    t, c = med.get("call"), med["copy"]
    row = {"bench": "targets", "workload": name, "threads": _threads_now(),
           "time_ms": None if t is None else 1e3 * t, "copy_ms": 1e3 * c,
           "ratio": None if t is None else t / c, "peer": peer, "target": peer / PEER_SPEEDUP,
           "note": notes.get("call", "")}
    row["met"] = None if t is None else bool(row["ratio"] <= row["target"])
    rows = [row]
    if extra_ref is not None and t is not None:
        s = med["sort"]
        peer_s = extra_ref[0]
        rows.append({**row, "workload": name + " (ratio to np.sort(np.abs(y)))", "copy_ms": 1e3 * s,
                     "ratio": t / s, "peer": peer_s, "target": peer_s / PEER_SPEEDUP,
                     "met": bool(t / s <= peer_s / PEER_SPEEDUP)})
    return rows


def _cases_targets(cfg: Config) -> list[Case]:
    from .. import num_threads, project

    peers = {w["name"]: w for w in WORKLOADS}
    cases = []

    def case(name, make, call, sort_ref=False):
        def run():
            y = make()
            ref = None
            if sort_ref:
                ref = (peers[name]["peer_sort"], lambda: np.sort(np.abs(y)))
            with num_threads(1):
                return _workload_rows(name, y, lambda: call(y), cfg.repeats, peers[name]["peer"], ref)

        cases.append(Case(f"targets {name}", run))

    rng0 = lambda: np.random.default_rng(cfg.seed)  # noqa: E731
    case("l1 1e6 N(0,1), radius 1", lambda: rng0().standard_normal(1_000_000),
         lambda y: project(y, 1.0, "l1"), sort_ref=True)
    normal = {}

    def big():
        if "y" not in normal:
            normal["y"] = rng0().standard_normal((1000, 10000))
            normal["r"] = radius_zeroing(normal["y"], "l1,inf", 0.5)
        return normal["y"]

    case("bi-level l1,inf 1000x10000 N(0,1), radius zeroing 50%", big,
         lambda y: project(y, normal["r"], "l1,inf", method="bilevel", axis=0))
    case("bi-level l1,inf 1000x10000 N(0,1), C=76.478", big,
         lambda y: project(y, 76.478, "l1,inf", method="bilevel", axis=0))
    for method, label in (("bilevel", "bi-level"), ("exact", "exact")):
        for m in cfg.targets_m:
            name = f"{label} l1,inf U[0,1) 1000x{m}, radius 1"
            if name in peers:
                case(name, lambda m=m: rng0().random((1000, m)),
                     lambda y, method=method: project(y, 1.0, "l1,inf", method=method, axis=0))
    return cases


# --------------------------------------------------------------------------- contention
class busy_processes:
    """Context manager: ``n`` Python processes that spin on a core each (the load of other
    programs), stopped on exit."""

    def __init__(self, n: int):
        self.n = n
        self.procs: list = []

    def __enter__(self):
        import subprocess
        import sys

        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.n)]
        time.sleep(0.2 if self.n else 0.0)  # let the scheduler see them
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


def _contention_jobs(cfg: Config):
    from .. import project

    rng = np.random.default_rng(cfg.seed)
    jobs = []
    n = cfg.contention_n
    for m in cfg.contention_m:
        y = rng.standard_normal((n, m))
        u = rng.random((n, m))
        r = radius_zeroing(y, "l1,inf", 0.5)
        jobs.append((f"bilevel l1,inf {n}x{m}", y.size, lambda y=y, r=r: project(y, r, "l1,inf", method="bilevel", axis=0)))
        jobs.append((f"bilevel l1,2 {n}x{m}", y.size, lambda y=y, r=r: project(y, r, "l1,2", method="bilevel", axis=0)))
        jobs.append((f"exact l1,inf U {n}x{m}", u.size, lambda u=u: project(u, 1.0, "l1,inf", method="exact", axis=0)))
    k = cfg.contention_tensor
    t = rng.standard_normal((k, k, k))
    jobs.append((f"multilevel l1,inf,inf {k}^3", t.size,
                 lambda: project(t, 100.0, "l1,inf,inf", method="multilevel", levels=(0, 1, 2))))
    return jobs


def _cases_contention(cfg: Config) -> list[Case]:
    from .. import max_threads, num_threads

    top = max_threads()
    cases = []
    for busy in cfg.contention_busy:

        def run(busy=busy):
            rows = []
            for label, size, fn in _contention_jobs(cfg):
                def one(fn=fn):
                    with num_threads(1):
                        fn()

                def many(fn=fn):
                    with num_threads(top):
                        fn()

                with busy_processes(busy):
                    med, _, notes = time_round_robin({"1": one, "n": many}, cfg.repeats)
                t1, tn = med.get("1"), med.get("n")
                bound = 1.3 if busy else 1.0
                rows.append({"bench": "contention", "kernel": label, "entries": size, "busy": busy,
                             "threads": top, "t1_ms": None if t1 is None else 1e3 * t1,
                             "tn_ms": None if tn is None else 1e3 * tn,
                             "ratio": None if not (t1 and tn) else tn / t1, "bound": bound,
                             "note": notes.get("n", "")})
            return rows

        cases.append(Case(f"contention busy={busy}", run))
    return cases


# --------------------------------------------------------------------------- first call
_FIRST_CALL = """
import sys, time
import numpy as np
import multiproj
y = np.random.default_rng(0).random((1000, 1000))
c, t = time.process_time(), time.perf_counter()
multiproj.project(y, 1.0, "l1,inf", method=sys.argv[1], axis=0)
print(time.perf_counter() - t, time.process_time() - c)
"""

# first-call goals (seconds, fresh cache) of the bi-level and exact l1,inf projections
FIRST_CALL_GOAL = {"bilevel": 3.0, "exact": 5.0}


def first_call_seconds(method: str) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of the first ``project`` of a 1000 x 1000 float64 matrix by
    ``method`` (l1,inf, groups = columns) in a new process with an empty Numba cache: the
    compilation of every kernel it runs."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        res = subprocess.run([sys.executable, "-c", _FIRST_CALL, method], env=env, capture_output=True,
                             text=True, check=True)
    wall, cpu = (float(v) for v in res.stdout.split()[-2:])
    return wall, cpu


def _cases_firstcall(cfg: Config) -> list[Case]:
    def run(method):
        wall, cpu = first_call_seconds(method)
        return [{"bench": "firstcall", "method": method, "ball": "l1,inf", "shape": "1000x1000",
                 "wall_s": wall, "cpu_s": cpu, "goal_s": FIRST_CALL_GOAL[method]}]

    return [Case(f"first call {m}", lambda m=m: run(m)) for m in FIRST_CALL_GOAL]


# --------------------------------------------------------------------------- autograd
def _cases_autograd(cfg: Config) -> list[Case]:
    try:
        import torch
    except ImportError:
        return [Case("autograd (torch not installed)", lambda: [{"bench": "autograd", "note": "n/a: torch is not installed"}])]
    from .. import num_threads
    from . import autograd

    cache: dict = {}

    def run(ball, method):
        if "y" not in cache:
            cache["y"] = autograd.data(cfg.autograd_shape, cfg.seed)
        y, g = cache["y"]
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with num_threads(1):
                f, fg, b = autograd.measure(y, g, ball, method, cfg.autograd_fraction, cfg.repeats)
        finally:
            torch.set_num_threads(before)
        return [{"bench": "autograd", "shape": _shape_str(y.shape), "dtype": "float64", "method": method,
                 "ball": ball, "fraction": cfg.autograd_fraction, "threads": 1, "fwd_ms": 1e3 * f,
                 "fwd_grad_ms": 1e3 * fg, "bwd_ms": 1e3 * b, "bwd_vs_fwd": b / f, "fwd_grad_vs_fwd": fg / f}]

    return [Case(f"autograd {m} {b}", lambda b=b, m=m: run(b, m)) for b, m in cfg.autograd_cases]


# --------------------------------------------------------------------------- multilevel
def _cases_multilevel(cfg: Config) -> list[Case]:
    from .. import max_threads
    from . import multilevel

    threads = sorted({1, max_threads()})

    def run(family, k):
        y = np.random.default_rng(cfg.seed).random(1 << cfg.multilevel_log2)
        rows = []
        for r in multilevel.bench_orders(y, cfg.multilevel_log2, threads, cfg.repeats, 1, (family,), (k,),
                                          verbose=False):
            for n in threads:
                t, c, ratio, _, _ = r[n]
                rows.append({"bench": "multilevel", "order": k, "shape": r["shape"], "method": "multilevel",
                             "ball": r["ball"], "eta": r["eta"], "threads": n, "time_ms": 1e3 * t,
                             "copy_ms": 1e3 * c, "ratio": ratio})
        return rows

    return [Case(f"multilevel {family} order {k}", lambda f=family, k=k: run(f, k))
            for family in cfg.multilevel_families for k in cfg.multilevel_orders]


# --------------------------------------------------------------------------- registry
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark(
            "sizes",
            "time vs matrix size, 1000 x m (authors' protocol: uniform [0,1), radius 1; "
            "and normal data, radius zeroing 50% of the groups); groups = columns",
            _cases_sizes,
        ),
        Benchmark("threads", "speedup vs number of threads (bi-level and multi-level kernels)", _cases_threads, _finalize_threads),
        Benchmark("tensors", "tensors of 2^L entries as orders 2, 3, 4, 6; l1,inf,...,inf balls", _cases_tensors),
        Benchmark(
            "sparsity",
            "radius sweep: zero groups, distance and the additive identity, bi-level vs exact l1,inf",
            _cases_sparsity,
        ),
        Benchmark("torch", "the same projections on torch tensors (CPU, and CUDA when present)", _cases_torch),
        Benchmark("targets", "reference workloads, 1 thread: ratio to Y.copy() against the fastest "
                  "other library's and the goal", _cases_targets),
        Benchmark("contention", "every thread against 1 thread, idle and beside busy processes", _cases_contention),
        Benchmark("firstcall", "first call in a new process with an empty Numba cache (compilation)", _cases_firstcall),
        Benchmark("autograd", "forward, forward recording the graph and backward of a projection (1 thread)",
                  _cases_autograd),
        Benchmark("multilevel", "multi-level projections of 2^L uniform entries as tensors of several orders, "
                  "eta = 1 and ||Y|| / 2", _cases_multilevel),
    ]
}


def plan(names, cfg: Config) -> list[tuple[str, Case]]:
    """Every case of the named sub-benchmarks, in order."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"Unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}.")
    return [(name, case) for name in names for case in BENCHMARKS[name].cases(cfg)]


def run_benchmarks(names, cfg: Config = QUICK, on_case: Callable[[str, str], None] | None = None) -> dict[str, list[dict]]:
    """Run the named sub-benchmarks; return ``{name: rows}``.

    ``on_case(name, label)`` is called after each case (progress bars).
    """
    steps = plan(names, cfg)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for name, case in steps:
        results[name].extend(case.run())
        if on_case is not None:
            on_case(name, case.label)
    for name in names:
        fin = BENCHMARKS[name].finalize
        if fin is not None:
            results[name] = fin(results[name])
    return results

