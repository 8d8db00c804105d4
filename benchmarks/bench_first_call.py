"""First call: the bi-level and exact l1,inf projections of a 1000 x 1000 float64 matrix,
each in a new process with an empty Numba cache (``NUMBA_CACHE_DIR`` set to a new
folder), so that the time is that of compiling every kernel the call runs.  Wall and CPU
seconds (the CPU time is steadier on a loaded machine).

    python benchmarks/bench_first_call.py

(A preset of ``multiproj bench firstcall``.)
"""

from multiproj.bench.presets import run_preset

if __name__ == "__main__":
    run_preset(["firstcall"], __doc__)
