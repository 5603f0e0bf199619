"""How much MLflow tracking adds to the main job's work: the same jobs, tracking on and off.

Both variants run in this one process, interleaved (on, off, off, on, ...) so machine noise hits
both alike; the result is a ratio, not an absolute time. Usage:

    python benchmarks/tracking_overhead.py [--seeds 5] [--rounds 2] [--methods naive,brf]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from imbsweep.data import load_dataset
from imbsweep.runner import run_job
from imbsweep.tracking import PROJECT_ROOT, Tracker

METHODS = "naive,smote_ann,weighted_ann,brf"


def job_config(method: str, seeds: int) -> dict:
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"method={method}", f"seeds={seeds}"])
    return OmegaConf.to_container(cfg, resolve=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="each round runs on+off (ABBA order)")
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--out", default=str(PROJECT_ROOT / "bench-results" / "tracking.json"))
    args = ap.parse_args()

    methods = args.methods.split(",")
    cfgs = {m: job_config(m, args.seeds) for m in methods}
    ds = load_dataset(cfgs[methods[0]]["dataset"])
    with tempfile.TemporaryDirectory() as tmp:
        on = Tracker(True, uri=f"sqlite:///{tmp}/mlflow.db", experiment="bench")
        off = Tracker(False)
        # Warm-up outside the clock: TensorFlow import, graph building, the store's schema.
        for tracker in (on, off):
            run_job({**cfgs[methods[-1]], "seeds": 1}, tracker, None, ds)
            if "smote_ann" in cfgs:
                run_job({**cfgs["smote_ann"], "seeds": 1}, tracker, None, ds)
        times = {(m, v): 0.0 for m in methods for v in ("on", "off")}
        for r in range(args.rounds):
            order = [("on", on), ("off", off)] if r % 2 == 0 else [("off", off), ("on", on)]
            for name, tracker in order:
                for m in methods:
                    t0 = time.perf_counter()
                    run_job(cfgs[m], tracker, None, ds)
                    times[(m, name)] += time.perf_counter() - t0
    rows = []
    for m in methods:
        t_on, t_off = times[(m, "on")], times[(m, "off")]
        rows.append({"method": m, "on_s": t_on, "off_s": t_off, "ratio": t_on / t_off})
    tot_on = sum(r["on_s"] for r in rows)
    tot_off = sum(r["off_s"] for r in rows)
    print(f"\ntracking on vs off, {args.seeds} seeds x {args.rounds} rounds, one process")
    print(f"{'method':<14}{'on (s)':>9}{'off (s)':>9}{'on/off':>8}")
    for r in rows:
        print(f"{r['method']:<14}{r['on_s']:>9.2f}{r['off_s']:>9.2f}{r['ratio']:>8.3f}")
    print(f"{'all':<14}{tot_on:>9.2f}{tot_off:>9.2f}{tot_on / tot_off:>8.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "seeds": args.seeds,
                "rounds": args.rounds,
                "rows": rows,
                "total_ratio": tot_on / tot_off,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
