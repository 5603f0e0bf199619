"""The practical's four presets at full precision, to check that a change leaves them alone.

Runs one seed run per (preset, seed) on the default config, tracking off, and writes every
metric but ``fit_seconds`` as ``repr`` strings to a JSON file. Run it before and after a
change and compare the files byte for byte. To run an older checkout's code with this
environment: ``git archive <rev> | tar -x -C /tmp/old`` then
``PYTHONPATH=/tmp/old/src python benchmarks/practical_numbers.py before.json --root /tmp/old``.

    python benchmarks/practical_numbers.py after.json [--seeds 0 1] && cmp before.json after.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from imbsweep.data import load_dataset
from imbsweep.runner import run_seed
from imbsweep.tracking import PROJECT_ROOT, Tracker

PRESETS = ("naive", "smote_ann", "weighted_ann", "brf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--root", default=str(PROJECT_ROOT), help="checkout whose conf/ to compose")
    args = ap.parse_args()
    out: dict[str, dict[str, str]] = {}
    for preset in PRESETS:
        with initialize_config_dir(str(Path(args.root) / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[f"method={preset}", "tracking.enabled=false"])
        cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        cfg = OmegaConf.to_container(cfg, resolve=True)
        ds = load_dataset(cfg["dataset"])
        for seed in args.seeds:
            m, _ = run_seed(cfg, ds, seed, Tracker(enabled=False), None, {})
            m.pop("fit_seconds")
            out[f"{preset} seed={seed}"] = {k: repr(float(v)) for k, v in sorted(m.items())}
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    print(f"{len(out)} seed runs -> {args.out}")


if __name__ == "__main__":
    main()
