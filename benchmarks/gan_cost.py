"""What the GAN sampler costs: a `gan_ann` seed run against a `smote_ann` seed run (the same
Keras net after either sampler) on the practical's data, side by side in this one process.

Both run interleaved (smote, gan, gan, smote, ...) after a warm-up outside the clock (TensorFlow
import, first graphs), so the ratio compares the work of one seed run, not start-up. Usage:

    python benchmarks/gan_cost.py [--rounds 2] [--seed 0] [method.gan_epochs=400 ...]

The overrides apply to the GAN's run only.
"""

from __future__ import annotations

import argparse
import statistics
import time

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from imbsweep.config import check_config
from imbsweep.data import load_dataset
from imbsweep.runner import run_seed
from imbsweep.tracking import PROJECT_ROOT, Tracker


def seed_config(method: str, overrides: list[str]) -> dict:
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config", overrides=[f"method={method}", "tracking.enabled=false", *overrides]
        )
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    cfg = OmegaConf.to_container(cfg, resolve=True)
    check_config(cfg)
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="each round runs both (ABBA order)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("overrides", nargs="*", help="method.gan_* overrides for the GAN run")
    args = ap.parse_args()

    cfgs = {
        "smote_ann": seed_config("smote_ann", []),
        "gan_ann": seed_config("gan_ann", args.overrides),
    }
    ds = load_dataset(cfgs["smote_ann"]["dataset"])
    off = Tracker(False)
    for m in cfgs:  # warm-up
        run_seed(cfgs[m], ds, args.seed, off, None, {})
    times: dict[str, list[float]] = {m: [] for m in cfgs}
    metrics = {}
    for r in range(args.rounds):
        order = list(cfgs) if r % 2 == 0 else list(reversed(cfgs))
        for m in order:
            t0 = time.perf_counter()
            metrics[m], _ = run_seed(cfgs[m], ds, args.seed, off, None, {})
            times[m].append(time.perf_counter() - t0)
    smote, gan = (statistics.median(times[m]) for m in ("smote_ann", "gan_ann"))
    print(f"seed {args.seed}, {args.rounds} rounds, medians of one seed run (fit + evaluation):")
    for m in cfgs:
        info = {k: round(v, 3) for k, v in metrics[m].items() if k.startswith(("gan_", "synth"))}
        f1 = metrics[m]["minority_f1"]
        print(f"  {m:10s} {statistics.median(times[m]):6.2f} s  F1={f1:.3f} {info}")
    print(f"gan_ann / smote_ann = {gan / smote:.2f}  (the issue's bound: <= 3)")


if __name__ == "__main__":
    main()
