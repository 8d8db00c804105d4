"""Sparse training toolkit: constrain, schedules, groupings, sparsity_report, compact."""

from __future__ import annotations

import copy
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import multiproj  # noqa: E402
import multiproj.nn as mpn  # noqa: E402
from multiproj._training.schedules import make_schedule  # noqa: E402

nn = torch.nn


def _steps(model, opt, n, x, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        for p in model.parameters():  # large random moves so that every projection acts
            p.grad.add_(torch.randn(p.shape, generator=g, dtype=p.dtype))
        opt.step()


def _mlp(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3)).to(dtype)


# ----------------------------------------------------------------------------- constrain
def test_constrain_keep_with_linear_schedule_and_warmup():
    net = _mlp()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    h = mpn.constrain(net, opt, {"modules": "Linear", "params": ["0.weight", "2.weight"],
                                 "ball": "l1,inf", "keep": 0.25, "schedule": "linear", "steps": 4,
                                 "warmup": 2})
    assert h.names == ["0.weight", "2.weight"]
    x = torch.randn(8, 40, dtype=torch.float64)
    _steps(net, opt, 2, x)
    rep = h.report()
    assert rep["0.weight"]["projections"] == 0 and rep["0.weight"]["kept_groups"] == 40
    kept = []
    for t in range(3, 9):
        _steps(net, opt, 1, x, seed=t)
        kept.append(h.report()["0.weight"]["kept_groups"])
    # k_t = 10 + ceil(30 (1 - p)), p = (t - 2) / 4
    assert kept == [10 + math.ceil(30 * (1 - min(1, (t - 2) / 4)) - 1e-9) for t in range(3, 9)]
    assert kept[-1] == 10 and h.report()["2.weight"]["kept_groups"] == 4  # ceil(0.25 * 16)
    r = h.report()["0.weight"]
    assert r["grouping"] == "inputs" and r["target_keep"] == 10 and r["projections"] == 6
    assert r["norm"] <= r["radius"] * (1 + 1e-9)
    h.remove()
    assert not h.active
    _steps(net, opt, 2, x, seed=99)
    assert h.report()["0.weight"]["kept_groups"] > 10


def test_constrain_regex_radius_cosine_every():
    net = _mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    h = mpn.constrain(net, opt, [{"params": re.compile(r"[02]\.weight"), "ball": "l1,2", "radius": 0.5,
                                  "schedule": "cosine", "steps": 4},
                                 {"params": "re:4\\.weight", "ball": "l1", "radius": 1.0, "every": 2}])
    x = torch.randn(8, 40, dtype=torch.float64)
    norms = []
    for t in range(1, 7):
        _steps(net, opt, 1, x, seed=t)
        norms.append(h.report()["0.weight"]["radius"])
    r0 = norms[0]  # p = 1/4: r_1 = r0' + (0.5 - r0') f(1/4), decreasing to 0.5 at p = 1
    assert all(a >= b for a, b in zip(norms, norms[1:])) and norms[3] == pytest.approx(0.5)
    assert r0 > 0.5
    assert h.report()["4.weight"]["projections"] == 3
    assert multiproj.norm(net[4].weight.detach(), "l1") <= 1.0 + 1e-9


def test_constrain_callable_schedule_and_project_now():
    net = _mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    h = mpn.constrain(net, opt, {"params": "0.weight", "ball": "l1,inf", "method": "exact", "keep": 4,
                                 "schedule": lambda p: p * p, "steps": 10})
    assert h.report()["0.weight"]["keep_now"] == 4 + math.ceil(36 * (1 - 0.01) - 1e-9)
    h.project_now(target=True)
    assert h.report()["0.weight"]["kept_groups"] == 4
    bad = mpn.constrain(net, opt, {"params": "2.weight", "ball": "l1,inf", "keep": 3,
                                   "schedule": lambda p: 2.0, "steps": 2})
    with pytest.raises(ValueError, match=r"must return a number in \[0, 1\]"):
        bad.project_now()


def test_freeze_keeps_removed_groups_out_and_count_exact():
    """With batch norm after it, a filter's norm does not change the loss; frozen removed
    groups keep the threshold at a small margin, so the kept filters keep their norm."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 36, 3))
    x = torch.randn(32, 1, 8, 8)
    target = torch.randint(0, 3, (32,))
    norms = {}
    for freeze in (False, True):
        torch.manual_seed(0)
        net_f = copy.deepcopy(net)
        opt = torch.optim.Adam(net_f.parameters(), lr=1e-2)
        h = mpn.constrain(net_f, opt, {"modules": nn.Conv2d, "ball": "l1,2", "keep": 4, "warmup": 2,
                                       "freeze": freeze})
        removed = None
        for t in range(20):
            opt.zero_grad()
            nn.functional.cross_entropy(net_f(x), target).backward()
            opt.step()
            rep = h.report()["0.weight"]
            if t >= 2:
                assert rep["kept_groups"] == 4
                if freeze:
                    removed = set(range(16)) - set(rep["kept"]) if removed is None else removed
                    assert set(range(16)) - set(rep["kept"]) == removed
        norms[freeze] = rep["norm"]
    assert norms[True] > 2 * norms[False]  # 0.64 vs 0.20 with this seed
    with pytest.raises(TypeError, match="field 'freeze'"):
        mpn.constrain(net, torch.optim.SGD(net.parameters(), lr=0.1),
                      {"modules": nn.Conv2d, "ball": "l1,2", "keep": 4, "freeze": 1})


@pytest.mark.parametrize("ball", ["l1,inf", "l1,2", "l1,1"])
@pytest.mark.parametrize("target", [{"keep": 5, "schedule": "linear", "steps": 3}, {"radius": 2.0},
                                    {"keep": 0.3, "freeze": True}, {"radius": 1.0, "steps": 4, "every": 2}])
def test_planned_group_kernels_equal_the_public_projection(ball, target):
    """The in-place kernels on the planned view of a CPU weight give what project_ at
    radius_for's radius gives, step after step (same radii, same kept groups)."""
    nets, handles = [], []
    for general in (False, True):
        net = _mlp()
        opt = torch.optim.Adam(net.parameters(), lr=0.05)
        h = mpn.constrain(net, opt, {"params": ["0.weight", "2.weight"], "ball": ball, **target})
        if general:
            for e in h._entries:
                e.groups = None  # the path of project_ with radius_for's radius
        nets.append((net, opt))
        handles.append(h)
    assert all(e.groups is not None for e in handles[0]._entries)
    x = torch.randn(8, 40, dtype=torch.float64)
    for (net, opt) in nets:
        _steps(net, opt, 6, x, seed=3)
    (a, _), (b, _) = nets
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, rtol=1e-9, atol=1e-12)
    ra, rb = handles[0].report(), handles[1].report()
    for name in ra:
        assert ra[name]["kept"] == rb[name]["kept"]
        assert ra[name]["projections"] == rb[name]["projections"] > 0
        assert math.isclose(ra[name]["radius"], rb[name]["radius"], rel_tol=1e-9)


def test_constrain_follows_a_replaced_storage_and_names_non_finite_weights():
    net = _mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    h = mpn.constrain(net, opt, {"params": "0.weight", "ball": "l1,inf", "keep": 4})
    with torch.no_grad():
        net[0].weight.data = net[0].weight.detach().clone() * 3  # new storage
    _steps(net, opt, 1, torch.randn(4, 40, dtype=torch.float64))
    assert h.report()["0.weight"]["kept_groups"] == 4
    assert int((net[0].weight.abs().amax(dim=0) > 0).sum()) == 4
    with torch.no_grad():
        net[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'0.weight' must contain only finite values"):
        h.project_now()


def test_schedule_counts():
    s = make_schedule("cosine", warmup=3, steps=10)
    assert not s.projects_at(3) and s.projects_at(4)
    assert s.keep_count(3, 100, 10) == 100 and s.keep_count(13, 100, 10) == 10
    assert s.keep_count(8, 100, 10) == 10 + math.ceil(90 * 0.5 - 1e-9)
    assert make_schedule(None).keep_count(1, 100, 10) == 10
    assert make_schedule("linear", steps=4).radius(2, 10.0, 2.0) == pytest.approx(6.0)


def test_constrain_conv_filters_and_heads():
    torch.manual_seed(1)
    model = nn.ModuleDict({"conv": nn.Conv2d(3, 12, 3), "attn": nn.MultiheadAttention(16, 4),
                           "q": nn.Linear(16, 16)})
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    h = mpn.constrain(model, opt, [
        {"modules": nn.Conv2d, "ball": "l1,2", "keep": 5},
        {"modules": "MultiheadAttention", "ball": "l1,inf", "keep": 2},
        {"params": "q.weight", "ball": "l1,2", "grouping": "heads", "num_heads": 4, "keep": 1},
    ])
    assert h.names == ["conv.weight", "attn.in_proj_weight", "q.weight"]
    ptrs = {n: p.data_ptr() for n, p in model.named_parameters()}
    h.project_now(target=True)
    assert ptrs == {n: p.data_ptr() for n, p in model.named_parameters()}
    rep = h.report()
    assert rep["conv.weight"]["grouping"] == "out_channels" and rep["conv.weight"]["kept_groups"] == 5
    w = model["conv"].weight.detach()
    assert int(w.flatten(1).abs().amax(dim=1).ne(0).sum()) == 5
    assert rep["attn.in_proj_weight"]["groups"] == 4 and rep["attn.in_proj_weight"]["kept_groups"] == 2
    heads = model["attn"].in_proj_weight.detach().view(3, 4, 4, 16)
    alive = heads.ne(0).any(dim=3).any(dim=2).any(dim=0)
    assert int(alive.sum()) == 2
    assert heads[:, ~alive].abs().max() == 0  # a removed head: its q, k and v rows
    qh = model["q"].weight.detach().view(4, 4, 16).ne(0).flatten(1).any(dim=1)
    assert int(qh.sum()) == 1


def test_heads_of_a_non_contiguous_weight():
    """Splitting the rows into heads is a view of any strided weight (here column-major):
    the projection is written into the parameter's storage."""
    lin = nn.Linear(16, 8, dtype=torch.float64)
    lin.weight = nn.Parameter(torch.randn(16, 8, dtype=torch.float64).t())
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    h = mpn.constrain(lin, opt, {"params": "weight", "ball": "l1,inf", "grouping": "heads",
                                 "num_heads": 2, "keep": 1})
    ptr = lin.weight.data_ptr()
    h.project_now(target=True)
    assert lin.weight.data_ptr() == ptr and not lin.weight.is_contiguous()
    alive = lin.weight.detach().reshape(2, 4, 16).ne(0).flatten(1).any(dim=1)
    assert int(alive.sum()) == 1
    assert h.report()["weight"]["kept_groups"] == 1


def test_grouping_without_a_view_projects_a_copy_and_writes_back():
    from multiproj._training.constrain import _build

    w = nn.Parameter(torch.randn(4, 16, 4, dtype=torch.float64).permute(1, 0, 2))  # (16, 4, 4)
    e = _build(0, {"ball": "l1,inf", "keep": 3, "axis": 1}, "w", w, nn.Module(), "w")
    from multiproj._training.groupers import Grouping

    e.grouping = Grouping("merged", (16, 16), (1,))  # merging dims 1, 2 needs a copy here
    v, is_view = e.grouping.view(w)
    assert not is_view
    ptr = w.data_ptr()
    e.project(None)
    assert w.data_ptr() == ptr
    assert int(w.detach().reshape(16, 16).ne(0).any(dim=1).sum()) == 3


@pytest.mark.parametrize(
    "rules,exc,text",
    [
        ({"params": "0.weight", "ball": "l1,inf", "keep": 3, "radus": 1}, ValueError, "rules[0] has unknown field(s) ['radus']"),
        ({"params": "0.weight", "keep": 3}, ValueError, "'ball' field is required"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 3, "radius": 1.0}, ValueError, "exactly one of 'radius' and 'keep'"),
        ({"params": "nope.*", "ball": "l1,inf", "keep": 3}, ValueError, "rules[0] selects no parameter"),
        ({"params": "0.weight", "ball": "l7", "keep": 3}, ValueError, "rules[0] (parameter '0.weight'), field 'ball'"),
        ({"params": "0.weight", "ball": "l1,inf", "method": "fast", "keep": 3}, ValueError, "field 'method'"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 1.5}, ValueError, "field 'keep'"),
        ({"params": "0.weight", "ball": "l1,inf", "radius": -1}, ValueError, "field 'radius'"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "grouping": "rows"}, ValueError, "field 'grouping'"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "axis": 3}, ValueError, "field 'axis'"),
        ({"params": "0.bias", "ball": "l1,inf", "keep": 2}, ValueError, "at least 2 dimensions"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "schedule": "exp"}, ValueError, "'schedule' field"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "warmup": -1}, ValueError, "'warmup' field"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "every": 0}, ValueError, "field 'every'"),
        ({"modules": "Dense", "ball": "l1,inf", "keep": 2}, ValueError, "field 'modules'"),
        ({"params": 3, "ball": "l1,inf", "keep": 2}, TypeError, "field 'params'"),
        ({"params": "0.weight", "ball": "l1,inf", "keep": 2, "grouping": "heads"}, ValueError, "num_heads"),
        ([{"params": "0.weight", "ball": "l1,inf", "keep": 2}, {"modules": "Linear", "ball": "l1,2", "keep": 2}],
         ValueError, "rules[1] selects '0.weight', already constrained by rules[0]"),
        ("0.weight", TypeError, "'rules' parameter"),
    ],
)
def test_constrain_errors_name_rule_and_field(rules, exc, text):
    net = _mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(exc) as info:
        mpn.constrain(net, opt, rules)
    assert text in str(info.value)


def test_constrain_parameter_not_optimized():
    net = _mlp()
    opt = torch.optim.SGD(net[2].parameters(), lr=0.1)
    with pytest.raises(ValueError, match="which the optimizer does not update"):
        mpn.constrain(net, opt, {"params": "0.weight", "ball": "l1,inf", "keep": 2})
    with pytest.raises(TypeError, match="'optimizer' parameter"):
        mpn.constrain(net, None, {"params": "0.weight", "ball": "l1,inf", "keep": 2})


# ----------------------------------------------------------------------------- report
def test_sparsity_report_nd_and_named_groupings():
    model = nn.ModuleDict({"conv": nn.Conv2d(2, 6, 3), "attn": nn.MultiheadAttention(8, 2),
                           "lin": nn.Linear(5, 4)})
    with torch.no_grad():
        model["conv"].weight[[1, 4]] = 0
        model["conv"].weight[:, 1] = 0
        model["attn"].in_proj_weight.view(3, 2, 4, 8)[:, 0] = 0
        model["lin"].weight[:, 2] = 0
    rep = mpn.sparsity_report(model)
    c = rep["conv.weight"]
    assert c["grouping"] == "out_channels" and c["groups"] == 6 and c["kept"] == [0, 2, 3, 5]
    assert c["groupings"]["in_channels"]["kept"] == [0]
    a = rep["attn.in_proj_weight"]["groupings"]["heads"]
    assert a["groups"] == 2 and a["kept"] == [1]
    assert rep["lin.weight"]["groupings"]["inputs"]["zero_groups"] == 1
    assert rep["lin.weight"]["kept"] == [0, 1, 3, 4]  # 2-D default: axis=0, the inputs
    named = mpn.sparsity_report(model, grouping={"conv.*": "in_channels", "attn.in_proj_weight": "heads"})
    assert named["conv.weight"]["kept"] == [0] and named["attn.in_proj_weight"]["kept"] == [1]
    assert named["lin.weight"]["grouping"] == "axis=(0,)"
    rows = mpn.sparsity_report(model["conv"].weight, axis=(1, 2, 3))["tensor"]
    assert rows["kept"] == [0, 2, 3, 5]
    with pytest.raises(TypeError, match="grouping"):
        mpn.sparsity_report(model, grouping=3)


# ----------------------------------------------------------------------------- compact
def _close(a, b):
    return torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_compact_mlp_inputs_and_hidden_units():
    net = _mlp()
    with torch.no_grad():
        net[0].weight[:, ::3] = 0          # 14 unused inputs
        net[0].weight[[1, 5, 7]] = 0       # 3 hidden units written off: constant bias
        net[2].weight[:, [0, 2]] = 0       # 2 hidden units not read
        net[2].weight[[3, 4]] = 0          # 2 units of the second layer written off
        net[4].weight[:, 9] = 0
    x = torch.randn(32, 40, dtype=torch.float64)
    res = mpn.compact(net, x)
    assert res.input_index.tolist() == [i for i in range(40) if i % 3]
    small = res.model
    assert small[0].in_features == 26 and small[0].out_features == 11
    assert small[2].in_features == 11 and small[2].out_features == 9
    assert small[4].in_features == 9 and small[4].out_features == 3
    assert res.params_after < res.params_before == sum(p.numel() for p in net.parameters())
    y = torch.randn(50, 40, dtype=torch.float64)
    assert _close(small(res.select_input(y)), net(y))
    assert _close(res.with_input_selection()(y), net(y))
    assert res.removed["0"] == {"inputs": 14, "outputs": 5}
    # the original is untouched
    assert net[0].weight.shape == (16, 40)


def test_compact_cnn_with_batchnorm_padding_and_flatten():
    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 10),
    ).double()
    x = torch.randn(16, 1, 8, 8, dtype=torch.float64)
    net.train()
    for _ in range(3):  # non-trivial running statistics
        net(x)
    with torch.no_grad():
        net[0].weight[[0, 3, 6]] = 0  # filters written off: BN(bias) -> ReLU -> padded conv
        net[4].weight[[2, 5]] = 0     # written off before the flatten: folded into the Linear bias
        net[4].weight[:, 1] = 0       # channel 1 of the first block not read
    net.eval()
    res = mpn.compact(net, x)
    small = res.model
    first = small[0]
    assert first.out_channels == 4 and small[1].num_features == 4
    from multiproj._training.compact import OffsetOutput

    assert isinstance(small[4], OffsetOutput)  # zero padding meets the constant channels
    conv2 = small[4].layer
    assert conv2.in_channels == 4 and conv2.out_channels == 4 and small[8].in_features == 4 * 16
    y = torch.randn(7, 1, 8, 8, dtype=torch.float64)
    assert _close(small(y), net(y))
    assert res.input_index is None  # the single input channel is read
    with pytest.raises(ValueError, match="spatial size"):
        small(torch.randn(1, 1, 12, 12, dtype=torch.float64))


def test_compact_conv_without_padding_folds_into_bias():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv1d(3, 6, 3), nn.ReLU(), nn.Conv1d(6, 4, 3), nn.Flatten(), nn.Linear(4 * 6, 2)).double()
    with torch.no_grad():
        net[0].weight[[1, 2]] = 0
        net[0].weight[:, 0] = 0  # input channel 0 unused
    x = torch.randn(5, 3, 10, dtype=torch.float64)
    res = mpn.compact(net, x)
    assert isinstance(res.model[2], nn.Conv1d) and res.model[2].in_channels == 4
    assert res.input_index.tolist() == [1, 2] and res.input_dim == 1
    assert _close(res.model(res.select_input(x)), net(x))


def test_compact_float32_model():
    net = _mlp(torch.float32)
    with torch.no_grad():
        net[0].weight[:, :30] = 0
        net[0].weight[:4] = 0
    x = torch.randn(20, 40)
    res = mpn.compact(net, x)
    assert res.model[0].weight.dtype == torch.float32 and res.model[0].in_features == 10
    assert torch.allclose(res.model(res.select_input(x)), net(x), rtol=1e-5, atol=1e-6)


def test_compact_sae():
    from multiproj.sae.model import SupervisedAutoencoder

    torch.manual_seed(4)
    sae = SupervisedAutoencoder(30, 3, hidden=12).double()
    with torch.no_grad():
        sae.encoder[0].weight[:, 10:] = 0
        sae.encoder[0].weight[[0, 1]] = 0
        sae.decoder[2].weight[:, [3, 4, 5]] = 0
    x = torch.randn(9, 30, dtype=torch.float64)
    res = mpn.compact(sae, x)
    assert isinstance(res.model, SupervisedAutoencoder)
    assert res.input_index.tolist() == list(range(10))
    assert res.model.encoder[0].weight.shape == (10, 10)
    assert res.model.decoder[2].weight.shape == (30, 9)
    z0, r0 = sae(x)
    z1, r1 = res.model(res.select_input(x))
    assert _close(z0, z1) and _close(r0, r1)
    assert sae.encoder[0].weight.shape == (12, 30)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.lin(x)


def test_compact_graph_without_torch_pruning_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # import fails
    x = torch.randn(2, 4)
    with pytest.raises(ImportError, match=re.escape('pip install "multiproj[prune]"')):
        mpn.compact(_Residual(), x)
    with pytest.raises(ImportError, match="Torch-Pruning"):
        mpn.compact(nn.Sequential(nn.Linear(4, 4), _Residual(), nn.Linear(4, 2)), x)


class _ResBlock(nn.Module):
    """conv -> BN -> ReLU, a residual branch conv -> ReLU -> conv added back, a Linear head."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 6, 3, padding=1)
        self.c3 = nn.Conv2d(6, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        h = torch.relu(self.bn(self.c1(x)))
        h = h + self.c3(torch.relu(self.c2(h)))
        return self.head(h.mean(dim=(2, 3)))


class _Branches(nn.Module):
    """A trunk feeding two Linear branches whose outputs are concatenated, then a head."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(10, 12)
        self.a = nn.Linear(12, 5)
        self.b = nn.Linear(12, 7)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        h = torch.relu(self.trunk(x))
        return self.head(torch.tanh(torch.cat([self.a(h), torch.relu(self.b(h))], dim=1)))


def test_compact_residual_block_through_torch_pruning():
    pytest.importorskip("torch_pruning")
    torch.manual_seed(0)
    m = _ResBlock().double().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.running_var.uniform_(0.5, 2.0)
        m.c2.weight[:, [1, 4]] = 0  # channels 1 and 4 of the residual sum: read by nobody
        m.head.weight[:, [1, 4]] = 0
        m.c2.weight[2] = 0  # hidden channel 2: written as exact zeros
        m.c2.bias[2] = 0
        m.c3.weight[:, 5] = 0  # hidden channel 5: not read
        m.c1.weight[0] = 0  # written off, but through batch norm (a constant): kept
    x = torch.randn(5, 3, 8, 8, dtype=torch.float64)
    res = mpn.compact(m, x)
    assert res.input_index is None
    assert res.model.c1.out_channels == 6 and res.model.bn.num_features == 6
    assert res.model.c2.out_channels == 4 and res.model.c3.in_channels == 4
    assert res.model.c3.out_channels == 6 and res.model.head.in_features == 6
    assert res.removed["c2"] == {"inputs": 2, "outputs": 2}
    assert res.params_after < res.params_before
    y = torch.randn(7, 3, 8, 8, dtype=torch.float64)  # not the example input
    assert torch.allclose(res.model(y), m(y), rtol=1e-12, atol=1e-12)
    assert m.c1.out_channels == 8  # the caller's model is not modified


def test_compact_branching_graph_through_torch_pruning():
    pytest.importorskip("torch_pruning")
    torch.manual_seed(1)
    m = _Branches().double().eval()
    with torch.no_grad():
        m.a.weight[:, [0, 3, 7]] = 0  # trunk units 0, 3, 7 read by neither branch
        m.b.weight[:, [0, 3, 7]] = 0
        m.head.weight[:, [1, 6]] = 0  # output 1 of branch a and output 1 of branch b unread
        m.b.weight[4] = 0  # unit 4 of branch b: relu(0) = 0, then tanh(0) = 0
        m.b.bias[4] = 0
    x = torch.randn(9, 10, dtype=torch.float64)
    res = mpn.compact(m, x)
    assert res.model.trunk.out_features == 9
    assert res.model.a.out_features == 4 and res.model.b.out_features == 5
    assert res.model.head.in_features == 9
    y = torch.randn(6, 10, dtype=torch.float64)
    assert torch.allclose(res.model(y), m(y), rtol=1e-12, atol=1e-12)
    # a residual whose channels are the model's output: nothing to remove, same outputs
    r = _Residual().double()
    with torch.no_grad():
        r.lin.weight[:, 2] = 0
    out = mpn.compact(r, x[:, :4])
    assert out.model.lin.weight.shape == (4, 4)
    assert torch.allclose(out.model(x[:, :4]), r(x[:, :4]), rtol=1e-12, atol=1e-12)


def test_compact_unsupported_graphs_raise():
    x = torch.randn(2, 4)
    with pytest.raises(NotImplementedError, match="grouped convolution"):
        mpn.compact(nn.Sequential(nn.Conv1d(4, 4, 1, groups=2)), torch.randn(1, 4, 3))
    with pytest.raises(TypeError, match="example_input"):
        mpn.compact(nn.Linear(3, 2), np.zeros((1, 3)))


def test_constrain_then_compact_end_to_end():
    net = _mlp()
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    h = mpn.constrain(net, opt, [{"params": "0.weight", "ball": "l1,inf", "keep": 8},
                                 {"params": "2.weight", "ball": "l1,2", "keep": 6}])
    x = torch.randn(16, 40, dtype=torch.float64)
    _steps(net, opt, 5, x)
    h.remove()
    res = mpn.compact(net, x)
    assert len(res.input_index) == 8 and res.model[2].in_features <= 6
    assert _close(res.model(res.select_input(x)), net(x))


# ----------------------------------------------------------------------------- docs
@pytest.mark.parametrize("mod", ["constrain", "compact", "groupers"])
def test_docstring_examples(mod):
    import doctest
    import importlib

    m = importlib.import_module(f"multiproj._training.{mod}")
    result = doctest.testmod(m, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0


def test_cnn_compaction_example_runs():
    root = Path(__file__).resolve().parents[1]
    script = root / "examples" / "plot_cnn_compaction.py"
    env = dict(os.environ, MPLBACKEND="Agg", MULTIPROJ_EXAMPLE_QUICK="1",
               PYTHONPATH=str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(script)], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "compacted" in out.stdout and "parameters" in out.stdout
    assert "outputs equal: True" in out.stdout


def test_user_guide_constrain_and_compact_example_runs():
    """The constrain + compact example of docs/user_guide/training.rst runs as written and
    does what its comments say."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "training.rst").read_text()
    blocks = [m.group(1) for m in re.finditer(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, flags=re.M)]
    found = ["\n".join(line[3:] for line in b.splitlines()) for b in blocks if "mpn.compact(model, x)" in b]
    assert len(found) == 1
    ns: dict = {}
    exec(found[0], ns)
    res, report = ns["res"], ns["report"]
    assert report["0.weight"]["kept_groups"] == 6 and report["2.weight"]["kept_groups"] == 8
    assert {0, 1, 2} <= set(report["0.weight"]["kept"])  # the informative features survive
    assert res.input_index.tolist() == report["0.weight"]["kept"]
    assert res.model[0].weight.shape == (8, 6) and res.model[2].weight.shape == (2, 8)
    assert res.params_after < res.params_before / 5
    assert ns["accuracy"] > 0.9

