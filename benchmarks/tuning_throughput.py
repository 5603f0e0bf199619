"""Tuning throughput: trials per minute per method, and the speedup of 2 parallel workers.

Runs the real `imbsweep sweeps=tune_<method>` commands (fresh studies in a temp dir, finalize
off) on the default launcher with 1 worker (units in the driver's process) and with 2 Dask
workers (trials' units as workers free up), back to back in this one run. Usage:

    python benchmarks/tuning_throughput.py [--trials 6] [--methods brf,smote_ann,weighted_ann]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tune(method: str, trials: int, workers: int, tmp: Path, extra: list[str]) -> dict:
    tag = f"{method}-{workers}"
    args = [
        str(BIN / "imbsweep"),
        f"sweeps=tune_{method}",
        f"hydra.sweeper.n_trials={trials}",
        f"hydra.sweeper.n_jobs={workers}",
        "hydra.sweeper.hooks.finalize=false",
        f"hydra.sweeper.storage=sqlite:///{tmp / f'{tag}.db'}",
        f"hydra.sweep.dir={tmp / tag}",
        "report.plot=false",
    ]
    args += [f"hydra.launcher.n_workers={workers}", *extra]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / f'{tag}-mlflow.db'}"}
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=tmp, capture_output=True)
    wall = time.perf_counter() - t0
    study = optuna.load_study(study_name=f"tune_{method}", storage=f"sqlite:///{tmp / f'{tag}.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    span = (last - first).total_seconds()  # first trial start to last trial end: no start-up
    return {
        "method": method,
        "workers": workers,
        "trials": len(done),
        "wall_s": wall,
        "trial_span_s": span,
        "trials_per_min": 60 * len(done) / span,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--methods", default="brf,smote_ann,weighted_ann")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "tuning.json"))
    ap.add_argument("overrides", nargs="*", help="more Hydra overrides for every study")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for m in args.methods.split(","):
            for w in (1, 2):
                rows.append(tune(m, args.trials, w, Path(d), args.overrides))
                r = rows[-1]
                print(
                    f"{m:<14} workers={w}  {r['trials']} trials in {r['trial_span_s']:.1f}s "
                    f"(wall {r['wall_s']:.1f}s): {r['trials_per_min']:.1f} trials/min",
                    flush=True,
                )
    print(f"\n{'method':<14}{'1 worker':>12}{'2 workers':>12}{'speedup':>9}   (trials/min)")
    for m in args.methods.split(","):
        one, two = (next(r for r in rows if r["method"] == m and r["workers"] == w) for w in (1, 2))
        sp = two["trials_per_min"] / one["trials_per_min"]
        print(f"{m:<14}{one['trials_per_min']:>12.1f}{two['trials_per_min']:>12.1f}{sp:>9.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
