"""Training integration: register_projection, freeze_zeros, sparsity_report."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import multiproj  # noqa: E402
import multiproj.nn as mpn  # noqa: E402


def _big_step(opt, params, scale=10.0, seed=0):
    """One optimiser step with a large random gradient (moves parameters far)."""
    g = torch.Generator().manual_seed(seed)
    for p in params:
        p.grad = scale * torch.randn(p.shape, generator=g, dtype=p.dtype)
    opt.step()


def _nrm(p, ball, **kw):
    return multiproj.norm(p.detach(), ball, **kw)


def test_hook_projects_after_every_step():
    w = torch.nn.Parameter(torch.randn(6, 10, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=1.0)
    h = mpn.register_projection(opt, w, 2.0, "l1,inf", method="bilevel", axis=0)
    ptr = w.data_ptr()
    for k in range(4):
        _big_step(opt, [w], seed=k)
        assert _nrm(w, "l1,inf", axis=0) <= 2.0 * (1 + 1e-9)
        assert w.data_ptr() == ptr
    assert h.steps == 4 and h.projections == 4
    assert h.active


def test_every_and_remove():
    w = torch.nn.Parameter(torch.zeros(5, 8))
    opt = torch.optim.SGD([w], lr=1.0)
    h = mpn.register_projection(opt, w, 1.0, "l1,2", every=3)
    inside = []
    for k in range(6):
        _big_step(opt, [w], seed=k)
        inside.append(_nrm(w, "l1,2") <= 1.0 * (1 + 1e-5))
    assert inside == [False, False, True, False, False, True]
    assert h.projections == 2
    h.remove()
    h.remove()  # idempotent
    assert not h.active
    _big_step(opt, [w], seed=9)
    assert _nrm(w, "l1,2") > 1.5
    assert h.steps == 6


def test_several_params_on_one_optimizer():
    a = torch.nn.Parameter(torch.randn(4, 7))
    b = torch.nn.Parameter(torch.randn(9))
    c = torch.nn.Parameter(torch.randn(3, 5))  # not projected
    opt = torch.optim.SGD([a, b, c], lr=1.0)
    mpn.register_projection(opt, a, 0.5, "l1,inf", axis=1)
    mpn.register_projection(opt, b, 3.0, "l1", method="exact")
    _big_step(opt, [a, b, c])
    assert _nrm(a, "l1,inf", axis=1) == pytest.approx(0.5, rel=1e-5)
    assert _nrm(b, "l1") == pytest.approx(3.0, rel=1e-5)
    assert _nrm(c, "l1") > 10.0


def test_project_keeps_parameter_and_optimizer_state():
    lin = torch.nn.Linear(12, 3)
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    mpn.register_projection(opt, lin.weight, 0.3, "l1,inf")
    w, ptr = lin.weight, lin.weight.data_ptr()
    lin(torch.randn(5, 12)).pow(2).sum().backward()
    opt.step()
    assert lin.weight is w and w.data_ptr() == ptr and isinstance(w, torch.nn.Parameter)
    assert w.requires_grad and w.grad_fn is None
    assert opt.state[w]["exp_avg"].shape == w.shape  # the state is still keyed on w


@pytest.mark.parametrize("ball,method", [("l1,inf", "bilevel"), ("l1,1", "bilevel"), ("l1", "exact")])
def test_tiny_model_stays_inside_ball_at_every_step(ball, method):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.SiLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    radius = 0.3
    w = model[0].weight
    assert _nrm(w, ball) > radius  # the constraint is active
    mpn.register_projection(opt, w, radius, ball, method=method)
    x = torch.randn(64, 20)
    y = (x[:, 0] > 0).long()
    for _ in range(15):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        assert _nrm(w, ball) <= radius * (1 + 1e-5)
    if ball != "l1":
        # whole input features (columns) removed
        assert mpn.sparsity_report(model)["0.weight"]["zero_groups"] > 0


def test_register_projection_errors():
    w = torch.nn.Parameter(torch.randn(3, 4))
    other = torch.nn.Parameter(torch.randn(3, 4))
    opt = torch.optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="param"):
        mpn.register_projection(opt, other, 1.0, "l1,inf")
    with pytest.raises(TypeError, match="optimizer"):
        mpn.register_projection([w], w, 1.0, "l1,inf")
    with pytest.raises(ValueError, match="every"):
        mpn.register_projection(opt, w, 1.0, "l1,inf", every=0)
    with pytest.raises(ValueError, match="radius"):
        mpn.register_projection(opt, w, -1.0, "l1,inf")
    with pytest.raises(ValueError, match="ball"):
        mpn.register_projection(opt, w, 1.0, "l3")
    with pytest.raises(ValueError, match="axis"):
        mpn.register_projection(opt, w, 1.0, "l1,inf", axis=2)
    with pytest.raises(ValueError, match="does not support"):
        mpn.register_projection(opt, w, 1.0, "l1", method="bilevel")
    with pytest.raises(TypeError, match="float32 or float64"):
        mpn.register_projection(opt, torch.zeros(3, 4, dtype=torch.int64), 1.0, "l1")
    assert not opt._optimizer_step_post_hooks  # nothing registered by the failures


@pytest.mark.parametrize("every, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)])
def test_every_check_is_the_same_for_sharded_projections(every, exc):
    """One rule for ``every``: the same exception type and message from the single-process
    and the sharded registration (which checks it before any communication)."""
    import multiproj.distributed as mpd

    w = torch.nn.Parameter(torch.randn(3, 4))
    opt = torch.optim.SGD([w], lr=0.1)
    msg = r"The 'every' parameter must be an int >= 1"
    with pytest.raises(exc, match=msg):
        mpn.register_projection(opt, w, 1.0, "l1,inf", every=every)
    with pytest.raises(exc, match=msg):
        mpd.register_sharded_projection(opt, w, 1.0, "l1,inf", every=every)
    assert not opt._optimizer_step_post_hooks


def _sparse_param(seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 10, generator=g)
    w[:, [1, 4, 7]] = 0.0  # zero input features
    w[0, 0] = 0.0
    return torch.nn.Parameter(w)


def test_freeze_zeros_with_adam_keeps_zeros():
    w = _sparse_param()
    zero = (w == 0).clone()
    opt = torch.optim.Adam([w], lr=0.1)
    # give Adam momentum on every entry first, then re-zero: without freezing, the
    # moments alone move the zero entries
    _big_step(opt, [w], seed=1)
    with torch.no_grad():
        w.masked_fill_(zero, 0.0)
    h = mpn.freeze_zeros(w, opt)
    assert torch.equal(h.mask, ~zero) and h.n_frozen == int(zero.sum())
    for k in range(5):
        _big_step(opt, [w], seed=2 + k)
        assert torch.all(w[zero] == 0)
        assert torch.all(w[~zero] != 0)
    h.remove()
    _big_step(opt, [w], seed=20)
    assert torch.any(w[zero] != 0)  # released


def test_adam_moves_zero_entries_without_freeze():
    """Control for the test above: the zeros do move when nothing freezes them."""
    w = _sparse_param()
    zero = (w == 0).clone()
    opt = torch.optim.Adam([w], lr=0.1)
    _big_step(opt, [w], seed=1)
    with torch.no_grad():
        w.masked_fill_(zero, 0.0)
    h = mpn.freeze_zeros(w)  # gradient masking only: Adam's moments still move entries
    _big_step(opt, [w], seed=2)
    assert torch.any(w[zero] != 0)
    h.remove()


def test_freeze_zeros_gradient_mask_with_sgd_and_threshold():
    w = _sparse_param()
    with torch.no_grad():
        w[2, 2] = 1e-4
    h = mpn.freeze_zeros(w, threshold=1e-3)
    assert w[2, 2].item() == 0.0  # below the threshold: zeroed now
    zero = ~h.mask
    opt = torch.optim.SGD([w], lr=0.5)
    loss = (w * torch.randn(6, 10)).sum()
    loss.backward()
    assert torch.all(w.grad[zero] == 0) and torch.any(w.grad[~zero] != 0)
    opt.step()
    assert torch.all(w[zero] == 0)
    h.remove()
    w.grad = None
    (w * torch.ones(6, 10)).sum().backward()
    assert torch.all(w.grad == 1)


def test_double_descent_schedule_keeps_projected_groups_at_zero():
    torch.manual_seed(1)
    lin = torch.nn.Linear(30, 4)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2)
    multiproj.project_(lin.weight, 0.5, "l1,inf", method="bilevel", axis=0)
    rep = mpn.sparsity_report(lin)["weight"]
    assert rep["zero_groups"] > 0
    h = mpn.freeze_zeros(lin.weight, opt)
    x = torch.randn(32, 30)
    for _ in range(5):
        opt.zero_grad()
        lin(x).pow(2).sum().backward()
        opt.step()
    after = mpn.sparsity_report(lin)["weight"]
    assert after["kept"] == rep["kept"]
    assert h.active


def test_sparsity_report():
    model = torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    with torch.no_grad():
        model[0].weight.copy_(_sparse_param())
        model[0].bias.zero_()
    rep = mpn.sparsity_report(model)
    assert set(rep) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    r = rep["0.weight"]
    assert r["shape"] == (6, 10) and r["numel"] == 60
    assert r["zeros"] == 3 * 6 + 1
    assert r["zero_fraction"] == pytest.approx(19 / 60)
    assert r["groups"] == 10 and r["zero_groups"] == 3
    assert r["kept"] == [0, 2, 3, 5, 6, 8, 9]
    assert rep["0.bias"]["zeros"] == 6 and "groups" not in rep["0.bias"]
    rows = mpn.sparsity_report(model[0].weight, axis=1)["tensor"]
    assert rows["groups"] == 6 and rows["zero_groups"] == 0
    with pytest.raises(TypeError, match="module"):
        mpn.sparsity_report(np.zeros((2, 2)))


def test_project_inplace_numpy_and_parameter():
    a = np.random.default_rng(0).standard_normal((5, 9))
    ref = multiproj.project(a, 1.0, "l1,inf", method="bilevel")
    assert multiproj.project_(a, 1.0, "l1,inf", method="bilevel") is a
    np.testing.assert_array_equal(a, ref)
    p = torch.nn.Parameter(torch.from_numpy(np.random.default_rng(1).standard_normal((5, 9))))
    ptr = p.data_ptr()
    ref = multiproj.project(p.detach().numpy().copy(), 1.0, "l1,1", method="bilevel")
    assert multiproj.project_(p, 1.0, "l1,1", method="bilevel") is p
    assert p.data_ptr() == ptr and p.requires_grad
    np.testing.assert_array_equal(p.detach().numpy(), ref)
