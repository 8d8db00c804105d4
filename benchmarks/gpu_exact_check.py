"""Exact l1,inf projection on a device: the torch-operations solver against the CPU (Numba)
result, and its time on a large float32 matrix against ``torch.clone``.

Run it on a CUDA machine::

    python benchmarks/gpu_exact_check.py                       # check + time 4096 x 16384
    python benchmarks/gpu_exact_check.py --json exact.json     # also save the figures
    python benchmarks/gpu_exact_check.py --device cpu --shape 256x1024 --repeat 3
        # dry run of the script on CPU tensors (the same torch-operations solver)

Without a CUDA device (and without ``--device cpu``) it says so and exits 0.  Exit status 1
when a device result differs from the CPU result beyond the tolerance.

It reads the steps of the torch-operations solver (Newton steps, host reads), so it calls
that backend directly and stays a script beside :mod:`multiproj.bench.gpu`.

Part 1: for normal, uniform U[0,1) and integer (ties) data, float32 and float64, groups =
columns and rows, radii from 1e-6 to 0.9 of the norm, the device result is compared with
``multiproj.project`` on the CPU copy (max |diff| / max |y|; tolerance 1e-6 in float32,
1e-12 in float64); the number of Newton steps and host reads is printed.  Part 2 times
(CUDA events, median of ``--repeat``) ``torch.clone`` of the matrix, the exact projection
with groups = columns (``axis=0``) and rows (``axis=1``) on U[0,1) data at radius 1 and on
normal data at 0.1 of the norm, and the sort alone (its main cost).
"""

from __future__ import annotations

import sys

import torch

import multiproj
from multiproj._torch import exact as _torch_exact
from multiproj.bench.gpu import device_machine, device_parser, device_timer, finish, parse_shape

TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


def _data(kind, shape, dtype, gen):
    if kind == "normal":
        y = torch.randn(shape, generator=gen, dtype=torch.float64)
    elif kind == "uniform":
        y = torch.rand(shape, generator=gen, dtype=torch.float64)
    else:
        y = torch.randint(-3, 4, shape, generator=gen).to(torch.float64)
    return y.to(dtype)


def check(device: str, shape) -> bool:
    print(f"\n1. {device} result vs CPU (Numba) result, {shape[0]} x {shape[1]}: max |diff| / max |y|")
    print(f"{'data':<8} {'dtype':<8} {'axis':>4} {'radius/norm':>11} {'rel diff':>10} {'steps':>6} {'reads':>6}  status")
    gen = torch.Generator().manual_seed(0)
    ok_all = True
    for kind in ("normal", "uniform", "ties"):
        for dtype in (torch.float32, torch.float64):
            y = _data(kind, shape, dtype, gen)
            yd = y.to(device)
            for axis in (0, 1):
                nrm = multiproj.norm(y, "l1,inf", axis=axis)
                for frac in (1e-6, 0.01, 0.3, 0.9):
                    r = frac * nrm
                    ref = multiproj.project(y, r, "l1,inf", method="exact", axis=axis)
                    res = _torch_exact.project_exact_l1inf(yd, r, (axis,))
                    st = {}
                    a, _ = _torch_exact._canonical(yd, (axis,))
                    _torch_exact.exact_l1inf_thresholds(a, r, st)
                    rel = float((res.cpu().double() - ref.double()).abs().max()) / max(float(y.abs().max()), 1e-300)
                    ok = rel <= TOL[dtype] and res.device == yd.device and res.dtype == yd.dtype
                    ok_all &= ok
                    print(f"{kind:<8} {str(dtype)[6:]:<8} {axis:>4} {frac:>11.0e} {rel:>10.2e} "
                          f"{st['newton_steps']:>6} {st['host_reads'] + 1:>6}  {'ok' if ok else 'FAIL'}")
    return ok_all


def timing(device: str, shape, repeat: int) -> dict:
    print(f"\n2. time on {device}: {shape[0]} x {shape[1]} float32, median of {repeat}")
    timer = device_timer(device)
    gen = torch.Generator(device=device).manual_seed(1)
    U = torch.rand(shape, generator=gen, device=device, dtype=torch.float32)
    Z = torch.randn(shape, generator=gen, device=device, dtype=torch.float32)
    out = torch.empty_like(U)
    t_clone = timer(lambda: U.clone(), repeat)
    gb = U.numel() * U.element_size() / 1e9
    print(f"{'torch.clone':<44} {t_clone * 1e3:10.3f} ms  ({2 * gb / t_clone:.0f} GB/s)  ratio 1.00")
    res = {"shape": list(shape), "clone_s": t_clone}
    cases = [(f"exact l1,inf U[0,1) radius 1, axis={ax}", U, 1.0, ax) for ax in (0, 1)]
    for ax in (0, 1):
        cases.append((f"exact l1,inf N(0,1) 0.1 x norm, axis={ax}", Z,
                      0.1 * multiproj.norm(Z, "l1,inf", axis=ax), ax))
    for label, Y, r, ax in cases:
        t = timer(lambda: _torch_exact.project_exact_l1inf(Y, r, (ax,), out=out), repeat)
        st = {}
        a, _ = _torch_exact._canonical(Y, (ax,))
        _torch_exact.exact_l1inf_thresholds(a, r, st)
        print(f"{label:<44} {t * 1e3:10.3f} ms  {'':>10}  ratio {t / t_clone:.2f}  "
              f"(Newton steps {st['newton_steps']}, host reads {st['host_reads'] + 1})")
        res[label] = {"s": t, "ratio_to_clone": t / t_clone, "newton_steps": st["newton_steps"]}
    a, _ = _torch_exact._canonical(U, (0,))
    t = timer(lambda: torch.sort(a, dim=1, descending=True), repeat)
    print(f"{'of which: torch.sort of the groups (axis=0)':<44} {t * 1e3:10.3f} ms  {'':>10}  ratio {t / t_clone:.2f}")
    res["sort_s"] = t
    return res


def main(argv=None) -> int:
    p = device_parser("Exact l1,inf on a device: check against the CPU and time.", "4096x16384", 10,
                      "the torch-operations solver")
    p.add_argument("--check-shape", default="512x2048", help="checked matrices, ROWSxCOLS")
    args = p.parse_args(argv)
    info = device_machine(args.device, "gpu_exact_check")
    if info is None:
        return 0
    ok = check(args.device, parse_shape(args.check_shape))
    tim = timing(args.device, parse_shape(args.shape), args.repeat)
    return finish(ok, args.json, {"machine": info, "timing": tim})

if __name__ == "__main__":
    sys.exit(main())
