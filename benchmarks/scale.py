"""Sweep-engine targets, each a ratio of two runs measured side by side here (issue 8).

    python benchmarks/scale.py [--skip-csv] [--skip-kill]

1. The main job (4 methods x 10 seeds, full tracking): 1 worker (in-process) vs one worker per
   core (the default local Dask cluster). Target: >= 1.8x on 2 cores.
2. One forest seed on a 500k-row CSV through `imbsweep` vs the same read + fit + predict written
   by hand. Target: <= 1.15x.
3. SIGKILL mid-sweep, then the same command again: the rerun's time minus the share of the
   uninterrupted sweep's time that was still missing. Target: <= 5 s.
4. With --keel: the cross-dataset benchmark as the issue measured it (4 methods x 117 sets x 3
   seeds, nets at 5 epochs), wall time. Target: <= 15 min on 2 cores (42 min before).
5. A small sweep (`method=naive dataset=keel dataset.name=glass1 seeds=3`, 15 units), whole
   process: the default launcher (which runs it in-process) vs 2 Dask workers forced. Target:
   <= 4 s (issue 25).
Every run uses a fresh sqlite store in a temporary directory; whole processes are timed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MAIN = ["imbsweep", "seeds=10", "report.plot=false"]


def run(args: list[str], tmp: Path, name: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / (name + '.db')}",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    t = time.perf_counter()
    p = subprocess.run(
        [*args, f"hydra.sweep.dir={tmp / name}"], env=env, capture_output=True, text=True
    )
    dt = time.perf_counter() - t
    if p.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{p.stderr[-3000:]}")
    return dt


def finished_units(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute(
                "select count(*) from runs r join tags t on r.run_uuid = t.run_uuid "
                "where t.key = 'run_level' and t.value = 'seed' and r.status = 'FINISHED'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-csv", action="store_true")
    ap.add_argument("--skip-kill", action="store_true")
    ap.add_argument("--skip-main", action="store_true")
    ap.add_argument("--skip-small", action="store_true")
    ap.add_argument("--keel", action="store_true", help="also the 117-set benchmark (~15 min)")
    ap.add_argument("--rows", type=int, default=500_000)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="imbsweep-bench-"))
    lines = []

    if not a.skip_small:
        small = ["imbsweep", "method=naive", "dataset=keel", "dataset.name=glass1", "seeds=3"]
        auto = run(small, tmp, "small_auto")
        forced = run([*small, "hydra.launcher.n_workers=2"], tmp, "small_2")
        lines.append(
            f"small sweep (15 units), default launcher vs 2 workers forced: {auto:.1f} s / "
            f"{forced:.1f} s = {auto / forced:.2f}x (target: <= 4 s whole process)"
        )

    many = 0.0
    if not a.skip_main:
        one = run([*MAIN, "hydra.launcher.n_workers=1"], tmp, "main1")
        many = run(MAIN, tmp, "main2")
        lines.append(
            f"main job, 1 worker vs {os.cpu_count()}: {one:.1f} s / {many:.1f} s "
            f"= {one / many:.2f}x"
        )

    if not a.skip_csv:
        import numpy as np
        import pandas as pd
        from sklearn.datasets import make_classification

        X, y = make_classification(a.rows, 20, weights=[0.95, 0.05], random_state=0)
        csv = tmp / "big.csv"
        pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(y=y).to_csv(csv, index=False)
        del X, y
        hand = (
            "import pandas as pd, numpy as np\n"
            "from sklearn.model_selection import train_test_split\n"
            "from imblearn.ensemble import BalancedRandomForestClassifier\n"
            f"d = pd.read_csv({str(csv)!r}); X, y = d.drop(columns='y'), d['y'].to_numpy()\n"
            "Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42)\n"
            "m = BalancedRandomForestClassifier(random_state=0).fit(Xtr, ytr)\n"
            "p = m.predict_proba(Xte)[:, 1]; print(((p > 0.5) == yte).mean())\n"
        )
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", hand], check=True, capture_output=True)
        by_hand = time.perf_counter() - t
        ours = run(
            [
                "imbsweep",
                "dataset=file",
                f"dataset.path={csv}",
                "dataset.target=y",
                "method=brf",
                "seeds=1",
                "report.plot=false",
                "report.claims=null",
            ],
            tmp,
            "csv",
        )
        lines.append(
            f"{a.rows:,}-row CSV, brf 1 seed, imbsweep vs by hand: {ours:.1f} s / {by_hand:.1f} s "
            f"= {ours / by_hand:.2f}x"
        )
        np.random.seed(0)

    if a.keel:
        keel = run(
            [
                "imbsweep",
                "sweeps=benchmark_keel",
                "seeds=3",
                "hydra.sweeper.params.method='naive,smote_ann,weighted_ann,brf'",
                "method.min_steps=0",
                "report.plot=false",
            ],
            tmp,
            "keel",
        )
        units = 4 * 117 * 3
        lines.append(
            f"benchmark_keel (4 methods x 117 sets x 3 seeds = {units} units): {keel / 60:.1f} min "
            f"({units / keel * 60:.0f} units/min; target <= 15 min)"
        )

    if not a.skip_kill and not a.skip_main:
        db = tmp / "kill.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(MLFLOW_TRACKING_URI=f"sqlite:///{db}", PATH=f"{BIN}:{env.get('PATH', '')}")
        args = [*MAIN, f"hydra.sweep.dir={tmp / 'kill'}"]
        p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while finished_units(db) < 20 and p.poll() is None:
            time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(2)
        before = finished_units(db)
        t = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        rerun = time.perf_counter() - t
        missing = many * (40 - before) / 40
        lines.append(
            f"rerun after SIGKILL with {before}/40 units done: {rerun:.1f} s vs {missing:.1f} s "
            f"for the missing share of an uninterrupted sweep: +{rerun - missing:.1f} s"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
