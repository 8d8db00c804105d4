"""multiproj.distributed on torch.distributed (gloo, CPU, loopback only).

Each parametrised test spawns ``world`` processes once and runs a whole list of checks in
them: every rank builds the same full array, takes its slice along ``shard_axis``, projects
it with :func:`multiproj.distributed.project` and compares with its slice of the
single-process :func:`multiproj.project`.  Failures inside a worker propagate through
``torch.multiprocessing.spawn``; each rank also writes how many checks it passed.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import multiproj  # noqa: E402
from multiproj import distributed as mpd  # noqa: E402

from conftest import make_data, tol  # noqa: E402

HAS_MULTILEVEL = "multilevel" in multiproj.METHODS

# (shape, dtype, ball, method, axis-or-levels, shard_axis, split, data kind, radius factor)
# split: "even" (np.array_split), "uneven" (rank 0 gets 1 slice), "empty" (last rank gets 0)
CASES = [
    ((7, 9), np.float64, "l1,inf", "bilevel", 0, 1, "even", "normal", 0.3),   # groups split
    ((7, 9), np.float32, "l1,inf", "bilevel", 0, 0, "uneven", "normal", 0.3),  # inside groups
    ((7, 9), np.float64, "l1,2", "bilevel", 0, 0, "even", "uneven_scale", 0.3),
    ((7, 9), np.float32, "l1,2", "bilevel", 0, 1, "uneven", "normal", 0.3),
    ((7, 9), np.float64, "l1,1", "bilevel", 0, 0, "even", "ties", 0.3),  # collective threshold
    ((9, 7), np.float32, "l1,1", "bilevel", 0, 0, "uneven", "heavy", 0.2),
    ((7, 9), np.float64, "l1,1", "bilevel", 1, 0, "empty", "normal", 0.3),  # a rank holds nothing
    ((3, 4, 5), np.float64, "l1,1", "bilevel", (0, 2), 2, "even", "sparse", 0.4),
    ((3, 4, 5), np.float32, "l1,inf", "bilevel", (0, 2), 1, "even", "normal", 0.4),
    ((7, 9), np.float64, "l1,inf", "bilevel", 0, 1, "even", "normal", 2.0),  # inside the ball
    ((7, 9), np.float64, "l1,2", "bilevel", 0, 0, "even", "normal", 0.0),  # radius 0
    ((5, 6), np.float64, "l1", "exact", None, 1, "even", "normal", 0.3),
    ((5, 6), np.float32, "l2", "exact", None, 0, "uneven", "normal", 0.5),
    ((5, 6), np.float64, "linf", "exact", None, 1, "even", "normal", 0.5),
    ((5, 6), np.float64, "l1,2", "exact", 0, 0, "even", "normal", 0.3),
]
if HAS_MULTILEVEL:
    CASES += [
        ((4, 5, 6), np.float64, "l1,inf,inf", "multilevel", None, 0, "even", "normal", 0.3),
        ((4, 5, 6), np.float32, "l1,1,1", "multilevel", None, 1, "uneven", "normal", 0.3),
        ((4, 5, 6), np.float64, "l1,2,1", "multilevel", None, 2, "even", "normal", 0.3),
        ((4, 5, 6), np.float64, "l1,1,2", "multilevel", None, 1, "even", "normal", 0.3),
        ((4, 5, 6), np.float64, "l1,inf,2", "multilevel", ((2,), 0, 1), 0, "even", "normal", 0.3),
    ]


def _sizes(n, world, split):
    if split == "even":
        return [len(a) for a in np.array_split(np.arange(n), world)]
    if split == "uneven":
        return [1] + [len(a) for a in np.array_split(np.arange(n - 1), world - 1)]
    return [len(a) for a in np.array_split(np.arange(n), world - 1)] + [0]


def _data(kind, shape, dtype, seed):
    if kind == "uneven_scale":  # groups of very different norms
        y = make_data("normal", shape, np.float64, seed) * np.logspace(-2, 1, shape[-1])
        return y.astype(dtype)
    return make_data(kind, shape, dtype, seed)


def _kwargs(method, axis):
    if method == "multilevel":
        return {} if axis is None else {"levels": axis}
    return {} if axis is None else {"axis": axis}


def _slice(a, shard_axis, sizes, rank):
    start = sum(sizes[:rank])
    return np.take(a, np.arange(start, start + sizes[rank]), axis=shard_axis)


def _check_case(rank, world, i, case, group=None, device="cpu"):
    shape, dtype, ball, method, axis, sa, split, kind, factor = case
    y = _data(kind, shape, dtype, seed=i)
    kw = _kwargs(method, axis)
    radius = factor * multiproj.norm(y, ball, **kw)
    ref = multiproj.project(y, radius, ball, method=method, **kw)
    sizes = _sizes(shape[sa], world, split)
    mine = _slice(y, sa, sizes, rank)
    shard = torch.from_numpy(mine.copy())
    if i % 2 == 1 and mine.ndim == 2:  # a non-contiguous shard (transposed storage)
        shard = torch.from_numpy(np.ascontiguousarray(mine.T)).T
    shard = shard.to(device)
    before = shard.clone()
    res = mpd.project(shard, radius, ball, method=method, shard_axis=sa, group=group, **kw)
    assert res.dtype == shard.dtype and res.shape == shard.shape, (case, res.dtype, res.shape)
    assert res.device == shard.device
    assert torch.equal(shard, before), f"case {i}: the shard was modified"
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(
        res.cpu().numpy(), _slice(ref, sa, sizes, rank), rtol=rtol, atol=atol * max(1.0, np.abs(y).max()),
        err_msg=f"case {i} {case} rank {rank}",
    )


def _check_inplace_and_hook(rank, world):
    y = make_data("normal", (6, 8), np.float64, seed=99)
    ref = multiproj.project(y, 2.0, "l1,inf", method="bilevel", axis=0)
    sizes = _sizes(8, world, "even")
    w = torch.nn.Parameter(torch.from_numpy(_slice(y, 1, sizes, rank).copy()))
    ptr = w.data_ptr()
    out = mpd.project_(w, 2.0, "l1,inf", axis=0, shard_axis=1)
    assert out is w and w.data_ptr() == ptr
    np.testing.assert_allclose(w.detach().numpy(), _slice(ref, 1, sizes, rank), rtol=1e-10, atol=1e-12)
    # the optimiser hook: after one step the full weight is inside the ball
    opt = torch.optim.SGD([w], lr=0.5)
    h = mpd.register_sharded_projection(opt, w, 1.0, "l1,inf", axis=0, shard_axis=1)
    w.grad = torch.ones_like(w)
    opt.step()
    assert h.projections == 1
    # groups = columns, owned whole by each rank: the full norm is the sum of local norms
    total = torch.tensor([multiproj.norm(w.detach().numpy(), "l1,inf", axis=0)])
    dist.all_reduce(total)
    assert abs(float(total) - 1.0) < 1e-9
    h.remove()
    assert not h.active


def _check_torch_primitives_path(rank, world):
    """The path for device tensors (the torch primitives), forced on CPU tensors so that it
    runs without a GPU."""
    saved = mpd._make_ops
    mpd._make_ops = lambda t: mpd._Ops(t.detach())
    try:
        for i, case in enumerate(CASES):
            _check_case(rank, world, i, case)
    finally:
        mpd._make_ops = saved
    return len(CASES)


def _expect(exc, match, fn):
    with pytest.raises(exc, match=match):
        fn()


def _check_errors(rank):
    """Every rank raises, and the group stays usable afterwards."""
    good = torch.ones(3, 4, dtype=torch.float64)
    # shapes that disagree outside shard_axis
    bad_shape = torch.ones(3, 5 if rank == 1 else 4, dtype=torch.float64)
    _expect(ValueError, "same shape", lambda: mpd.project(bad_shape, 1.0, "l1,inf", shard_axis=0))
    # dtypes that disagree
    bad_dtype = good.float() if rank == 1 else good
    _expect(TypeError, "same dtype", lambda: mpd.project(bad_dtype, 1.0, "l1,inf", shard_axis=0))
    # NaN on one rank only
    nan = good.clone()
    if rank == 1:
        nan[0, 0] = float("nan")
    _expect(ValueError, "finite", lambda: mpd.project(nan, 1.0, "l1,2", shard_axis=1))
    # a bad argument on rank 0 only: its own error there, a pointer to rank 0 elsewhere
    r = -1.0 if rank == 0 else 1.0
    _expect(ValueError, "radius" if rank == 0 else r"rank\(s\) \[0\]",
            lambda: mpd.project(good, r, "l1,inf", shard_axis=0))
    # arguments that disagree
    _expect(ValueError, "'radius' parameter must be the same",
            lambda: mpd.project(good, 1.0 + rank, "l1,inf", shard_axis=0))
    _expect(ValueError, "'axis'", lambda: mpd.project(good, 1.0, "l1,inf", axis=rank % 2, shard_axis=0))
    _expect(TypeError, "torch.Tensor", lambda: mpd.project(good.numpy(), 1.0, "l1,inf"))
    # still in step: a correct call works
    res = mpd.project(good, 1.0, "l1,inf", axis=0, shard_axis=0)
    assert torch.isfinite(res).all()


def _shutdown(ok: bool):
    """Leave the process group cleanly.  After a successful run, a barrier keeps a rank
    from closing its gloo connections while a peer's last send is still in flight (after
    a failure it would only wait for a peer that never comes).  The collection then
    destroys the process group's C++ objects while the interpreter is alive: left to
    interpreter finalisation, gloo's worker threads abort the process now and then
    ("terminate called without an active exception", SIGABRT after every check had
    passed: about 1 run in 4 without both, none in 40 with both)."""
    import gc

    try:
        if ok:
            dist.barrier()
    finally:
        dist.destroy_process_group()
        gc.collect()


def _worker(rank, world, port, outdir):
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    multiproj.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=timedelta(seconds=120),
    )
    ok = False
    try:
        n = 0
        for i, case in enumerate(CASES):
            _check_case(rank, world, i, case)
            n += 1
        if world == 2:
            _check_inplace_and_hook(rank, world)
            _check_errors(rank)
            n += 2
        else:
            n += _check_torch_primitives_path(rank, world)
            # a sub-group of two of the three ranks (group=...), numbered within the group
            sub = dist.new_group([0, 2])
            if rank != 1:
                for i, case in enumerate(CASES[:6]):
                    _check_case(rank // 2, 2, i, case, group=sub)
                    n += 1
        with open(os.path.join(outdir, f"rank{rank}"), "w") as f:
            f.write(str(n))
        ok = True
    finally:
        _shutdown(ok)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_equals_single_process(world, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(world, _free_port(), str(tmp_path)), nprocs=world, join=True)
    expected = {2: [len(CASES) + 2] * 2, 3: [2 * len(CASES) + 6, 2 * len(CASES), 2 * len(CASES) + 6]}
    for r in range(world):
        assert (tmp_path / f"rank{r}").read_text() == str(expected[world][r])


def _nccl_worker(rank, port, outdir):
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    ok = False
    try:
        for i, case in enumerate(CASES):
            _check_case(0, 1, i, case, device="cuda")
        with open(os.path.join(outdir, "rank0"), "w") as f:
            f.write(str(len(CASES)))
        ok = True
    finally:
        _shutdown(ok)


@pytest.mark.cuda
@pytest.mark.skipif(
    not (torch.cuda.is_available() and dist.is_nccl_available()), reason="needs CUDA and NCCL"
)
def test_nccl_one_rank_on_cuda(tmp_path):
    """The NCCL path (CUDA communication buffers, torch primitives on the device) with one
    rank: NCCL cannot put two ranks on one GPU."""
    import torch.multiprocessing as mp

    mp.spawn(_nccl_worker, args=(_free_port(), str(tmp_path)), nprocs=1, join=True)
    assert (tmp_path / "rank0").read_text() == str(len(CASES))


def test_needs_initialised_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        mpd.project(torch.ones(3, 4), 1.0, "l1,inf")


def test_sizes_helper_covers_every_split():
    for split in ("even", "uneven", "empty"):
        for world in (2, 3):
            s = _sizes(9, world, split)
            assert len(s) == world and sum(s) == 9
    assert _sizes(9, 3, "empty")[-1] == 0 and _sizes(9, 3, "uneven")[0] == 1


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("axes", [(1,), (0, 2)])
def test_local_l1_sums_dense_then_compacted(order, axes):
    """The per-group sums/counts above tau used by the collective l1 thresholds, in both of
    their modes (dense passes, then a list of the few remaining entries)."""
    a = np.asarray(make_data("normal", (6, 40, 5), np.float64, seed=1), order=order)
    kshape = tuple(1 if k in axes else s for k, s in enumerate(a.shape))
    from multiproj._cpu import primitives as cpu
    from multiproj._torch import primitives as tp

    st = cpu.L1Sums(a, axes, kshape)
    dense = tp.L1Sums(torch.from_numpy(a), axes, kshape)  # the device class, on the CPU
    scale = 1.0 + np.arange(int(np.prod(kshape))).reshape(kshape) / 30
    b = np.abs(a)
    for t in (0.0, 0.5, 1.5, 2.2, 2.6, 3.5):  # tau only grows, as in the iteration
        tau = t * scale
        mask = b > tau
        for S, C in (st.sums(tau.reshape(-1)), dense.sums(tau.reshape(-1))):
            np.testing.assert_allclose(S, (b * mask).sum(axis=axes).reshape(-1), rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(C, mask.sum(axis=axes).reshape(-1))
    assert st.cand is not None  # the list mode was reached
