"""Reference workloads, one thread: the l1 ball of 1e6 normal entries, the bi-level l1,inf
projection of a 1000 x 10000 normal matrix (radius zeroing half of the columns, and
C = 76.478), and the bi-level and exact l1,inf projections of uniform 1000 x m matrices
(m = 1000 ... 8000, radius 1).  Each time is a ratio to ``Y.copy()`` of the same run (the
l1 row also to ``np.sort(np.abs(y))``), next to the fastest other library's ratio on this
machine kind and the goal (1.15 x faster than it).

    python benchmarks/bench_targets.py [--repeats 15] [--markdown PATH]

(A preset of ``multiproj bench targets``.)
"""

from multiproj.bench.presets import run_preset

if __name__ == "__main__":
    run_preset(["targets"], __doc__)
