"""The config schema (typos fail at compose time) and value checks (bad values fail at start).

The schema is registered in Hydra's ConfigStore as ``imbsweep_schema``; ``conf/config.yaml``
lists it first in its defaults so every YAML file merges into typed nodes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Dict, Optional  # noqa: UP035 (OmegaConf 2.3 needs typing's Dict)

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from imbsweep.datasets import SCHEMAS
from imbsweep.errors import ConfigError
from imbsweep.paths import CONF_DIR, PROJECT_ROOT


@dataclass
class MethodConf:
    """One flat namespace for sampler, model and threshold keys (docs/methods.md)."""

    name: str = MISSING
    sampler: str = "none"
    model: str = MISSING
    threshold: Any = 0.5
    threshold_metric: str = "minority_f1"
    # threshold=tuned: 0 = on the validation rows; k >= 2 = on out-of-fold scores of the
    # training rows (k stratified folds; no validation split needed)
    threshold_cv: int = 0
    # samplers
    k_neighbors: int = 5
    sampling_strategy: Any = "auto"
    n_neighbors: int = 3
    near_miss_version: int = 1
    m_neighbors: int = 10  # borderline_smote: neighbours that decide "danger" rows
    borderline_kind: int = 1  # borderline_smote: 1 or 2
    kmeans_clusters: int = 8  # kmeans_smote: k-means clusters (imblearn's default 8)
    cluster_balance_threshold: Any = 0.1  # kmeans_smote: min minority share; "auto" = imblearn's
    noise_scale: float = 0.1  # noise: jitter std as a fraction of each feature's std
    # gan sampler (its own keys: the net's hidden_units/epochs/... are the classifier's)
    gan_latent_dim: int = 16
    gan_hidden_units: int = 64
    gan_epochs: int = 200
    gan_learning_rate: float = 0.001
    gan_batch_size: int = 64
    # smote_variants sampler: one of its oversamplers by class name, and that class's own
    # parameters (its defaults for any not given); methods/sv_sampler.py
    oversampler: str = ""
    oversampler_params: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    # Keras net
    hidden_units: int = 16
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 0.001
    steps_per_execution: int = 50
    early_stopping: int = 0  # > 0: patience in epochs on held-out fit rows; epochs is then the cap
    min_steps: int = 0  # > 0: at least this many optimizer steps, whatever the data's size
    class_weight: str = "none"
    weight_scale: float = 1.0
    loss: str = "bce"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    # trees and linear models
    n_estimators: int = 100
    replacement: bool = True
    bootstrap: bool = False
    max_iter: int = 1000
    n_jobs: int = 1
    # svm
    svm_c: float = 1.0
    svm_kernel: str = "rbf"
    # What `sweeps=tune` (and `benchmark_tuned`) search: method key -> the Optuna sweeper's
    # grammar, e.g. n_estimators: "tag(log, int(interval(10, 500)))". Not part of a run's
    # identity nor its params.
    search_space: Dict[str, str] = field(default_factory=dict)  # noqa: UP006


@dataclass
class SplitConf:
    # kfold: repeated stratified k-fold, one repeat per seed (every row tested once a repeat);
    # holdout: one train/test split per seed (test_size), or one fixed split (vary_with_seed false)
    protocol: str = "kfold"
    folds: int = 5  # kfold only; fewer when the minority has fewer rows (a warning says so)
    test_size: float = 0.2  # holdout only
    random_state: int = 42  # used only when vary_with_seed is false
    vary_with_seed: bool = True
    stratify: bool = True
    validation_size: float = 0.0
    drop_duplicates: bool = False
    # > 0: a share of rows a study never sees; the final table's test rows come from it.
    holdout: float = 0.0
    # >= 2: nested k-fold (sweeps/benchmark_tuned.yaml). A trial (stage=trial) of the study of
    # outer fold ``outer_fold`` runs ``inner_folds`` stratified folds of that outer fold's
    # training rows only; the default and tuned jobs run the outer folds (``folds``).
    inner_folds: int = 0
    outer_fold: Optional[int] = None  # noqa: UP045


@dataclass
class ObjectiveConf:
    # One metric, or a list for a multi-objective study (one value per sweeper direction).
    metric: Any = "minority_f1"
    statistic: str = "mean"  # mean | mean_minus_std


@dataclass
class TrackingConf:
    enabled: bool = True
    uri: Optional[str] = None  # noqa: UP045 (OmegaConf 2.3 needs Optional) None: $MLFLOW_TRACKING_URI, else sqlite:///<project>/mlflow.db
    experiment: str = "imbsweep"
    log_models: bool = True
    # auto: skops on a shared store (a server, a database), cloudpickle (~10x faster to log:
    # 0.07 s vs 0.6 s for the forest; loading it runs code) on a local file store.
    sklearn_format: str = "auto"


@dataclass
class ReportConf:
    claims: Optional[str] = "practical"  # noqa: UP045  # claimed ranges to compare with; null for none
    plot: bool = True
    # The headline of the paired, remedy-effect and cross-dataset tables.
    metric: str = "minority_f1"


@dataclass
class TuningConf:
    # Seeds of the final defaults-vs-best table of a tuning sweep (trials use `seeds`).
    final_seeds: Any = 10
    # sweeps=benchmark_tuned: trials of each study (one per dataset x method x outer fold).
    trials: int = 10
    # The label of a job whose units run different settings (benchmark_tuned's tuned job:
    # each outer fold its own study's best); null: the method's label.
    label: Optional[str] = None  # noqa: UP045


@dataclass
class UnitConf:
    """Set by the sweep driver on each unit (one seed of one job) it launches; null otherwise."""

    seed: Optional[int] = None  # noqa: UP045
    fold: Optional[int] = None  # noqa: UP045  # split.protocol=kfold: the fold of the seed's repeat
    job_key: Optional[str] = None  # noqa: UP045
    sweep_id: Optional[str] = None  # noqa: UP045
    job_run_id: Optional[str] = None  # noqa: UP045
    # Where the driver's runs are: workers on other machines have neither its environment
    # (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID) nor its working directory.
    tracking_uri: Optional[str] = None  # noqa: UP045
    experiment_id: Optional[str] = None  # noqa: UP045


@dataclass
class Config:
    dataset: Any = MISSING
    method: MethodConf = field(default_factory=MethodConf)
    seeds: Any = 10
    stage: str = "run"
    split: SplitConf = field(default_factory=SplitConf)
    objective: ObjectiveConf = field(default_factory=ObjectiveConf)
    tracking: TrackingConf = field(default_factory=TrackingConf)
    report: ReportConf = field(default_factory=ReportConf)
    tuning: TuningConf = field(default_factory=TuningConf)
    # false: never resume an earlier run of the same sweep, start a fresh sweep run.
    resume: bool = True
    unit: UnitConf = field(default_factory=UnitConf)


ConfigStore.instance().store(name="imbsweep_schema", node=Config)
# One schema per dataset kind (its keys and defaults); conf/dataset/<kind>.yaml extends it.
for _kind, _schema in SCHEMAS.items():
    ConfigStore.instance().store(name=f"dataset_{_kind}_schema", node=_schema)
# `${project_root:}` in configs: absolute, so stores don't follow the working directory.
OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)


def _if_practical_data(dataset: Any, if_practical: Any, otherwise: Any) -> Any:
    """``${if_practical_data:${dataset},a,b}``: ``a`` on the practical's own data, else ``b``.

    The practical's data is ``conf/dataset/synthetic.yaml`` with every key unchanged; any other
    dataset, or the synthetic set with any key changed, is other data (sweeps/practical.yaml).
    """
    mine = dataset
    if OmegaConf.is_config(dataset):
        mine = OmegaConf.to_container(dataset, resolve=True)
    return if_practical if mine == _practical_dataset() else otherwise


@functools.cache
def _practical_dataset() -> dict:
    # The file extends its schema (defaults list): its node is the schema plus the file's keys.
    raw = OmegaConf.load(CONF_DIR / "dataset" / "synthetic.yaml")
    raw.pop("defaults", None)
    node = OmegaConf.merge(OmegaConf.structured(SCHEMAS["synthetic"]), raw)
    return OmegaConf.to_container(node, resolve=True)


OmegaConf.register_new_resolver("if_practical_data", _if_practical_data, replace=True)


def method_space(space: Any) -> dict[str, str]:
    """``${method_space:${method.search_space}}``: a preset's search space as the Optuna
    sweeper's ``params`` (keys under ``method.``)."""
    if OmegaConf.is_config(space):
        space = OmegaConf.to_container(space, resolve=True)
    return {f"method.{k}": str(v) for k, v in (space or {}).items()}


OmegaConf.register_new_resolver("method_space", method_space, replace=True)


def search_space_lines() -> list[str]:
    """One line per method preset: its name and search space, as ``imbsweep --help`` lists
    them (tests/test_search_spaces.py checks the help text and docs/tuning.md against these)."""
    lines = []
    for path in sorted((CONF_DIR / "method").glob("*.yaml")):
        space = OmegaConf.to_container(OmegaConf.load(path)).get("search_space") or {}
        text = "; ".join(f"{k} {v}" for k, v in space.items()) or "(nothing to tune)"
        lines.append(f"    {path.stem:<26}{text}")
    return lines


STATISTICS = ("mean", "mean_minus_std")


def resolve_seeds(seeds: Any) -> list[int]:
    """``seeds`` is a count N (seeds 0..N-1) or an explicit list of non-negative ints."""
    if isinstance(seeds, bool):
        raise ConfigError(
            "seeds", seeds, "a count >= 1 or a list of seeds, e.g. seeds=10 or seeds=[0,7]"
        )
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError("seeds", seeds, "a count >= 1 or a list of seeds, e.g. seeds=10")
        return list(range(seeds))
    if (
        isinstance(seeds, list | tuple)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        if len(set(seeds)) != len(seeds):
            raise ConfigError("seeds", list(seeds), "a list without repeats")
        return [int(s) for s in seeds]
    raise ConfigError(
        "seeds",
        seeds,
        "a count >= 1 or a non-empty list of ints >= 0, e.g. seeds=10 or seeds=[0,7]",
    )


def check_method_values(m: dict) -> None:
    """Every ``method.*`` value and the sampler/model pairing, then the libraries' own checks
    on the estimators the method builds (nothing is fitted)."""
    from imbsweep.methods import check_method, check_params

    check_method(m)
    check_params(m)


def check_config(cfg: dict) -> None:
    """Every value check, in one place, before any expensive work or any MLflow write."""
    resolve_seeds(cfg.get("seeds"))
    try:
        resolve_seeds(cfg["tuning"]["final_seeds"])
    except ConfigError as exc:
        raise ConfigError("tuning.final_seeds", exc.value, exc.allowed) from None
    check_method_values(cfg["method"])
    sp = cfg["split"]
    check_protocol(sp, cfg.get("stage"))
    if not 0 < float(sp["test_size"]) < 1:
        raise ConfigError("split.test_size", sp["test_size"], "a fraction in (0, 1)")
    if not 0 <= float(sp["validation_size"]) < 1:
        raise ConfigError("split.validation_size", sp["validation_size"], "a fraction in [0, 1)")
    cv = cfg["method"]["threshold_cv"]
    if cfg["method"].get("threshold") == "tuned" and float(sp["validation_size"]) <= 0 and cv < 2:
        raise ConfigError(
            "split.validation_size",
            sp["validation_size"],
            "a fraction > 0 with method.threshold=tuned, or method.threshold_cv=5",
            "the threshold is tuned on validation rows or on out-of-fold scores of the training "
            "rows, never on the test set",
        )
    obj = cfg["objective"]
    from imbsweep.evaluation import METRICS

    metrics = obj["metric"] if isinstance(obj["metric"], list) else [obj["metric"]]
    if not metrics or any(not isinstance(m, str) or m not in METRICS for m in metrics):
        raise ConfigError(
            "objective.metric", obj["metric"], f"one of {list(METRICS)} or a list of them"
        )
    if obj["statistic"] not in STATISTICS:
        raise ConfigError("objective.statistic", obj["statistic"], f"one of {list(STATISTICS)}")
    holdout = float(sp.get("holdout", 0.0) or 0.0)
    if holdout and not float(sp["test_size"]) < holdout < 1:
        raise ConfigError(
            "split.holdout",
            holdout,
            f"0 (off) or a fraction between split.test_size ({sp['test_size']}) and 1, e.g. 0.4",
            "each outer split's test rows are drawn from the held-out rows, a new draw per seed",
        )
    stage = cfg.get("stage")
    nested = sp["protocol"] == "kfold" and (sp.get("inner_folds") or 0) >= 2
    vary = sp.get("vary_with_seed")
    if stage in ("trial", "best", "default") and vary and not holdout and not nested:
        raise ConfigError(
            "split.vary_with_seed",
            True,
            "false when tuning, or split.holdout > 0 (e.g. split.holdout=0.4)",
            "with a split per seed and no held-out rows, the rows a study tuned on are test rows "
            "of other seeds' splits, so the tuned settings would have seen the final table's "
            "test rows",
        )
    if cfg.get("stage") == "trial" and float(sp["validation_size"]) <= 0 and not nested:
        raise ConfigError(
            "split.validation_size",
            sp["validation_size"],
            "a fraction > 0 when tuning",
            "tuning trials are scored on a validation split carved from the training rows, "
            "never on the test set",
        )
    fmt = cfg["tracking"]["sklearn_format"]
    if fmt not in ("auto", "cloudpickle", "skops"):
        raise ConfigError("tracking.sklearn_format", fmt, "'auto', 'cloudpickle' or 'skops'")
    from imbsweep import credentials

    if credentials.has_secret(uri := cfg["tracking"].get("uri")):
        raise ConfigError(
            "tracking.uri",
            credentials.redact(uri),
            "a URI without a password",
            "a password in a config or on the command line is seen by everyone on the machine "
            "and written to the sweep's .hydra/ files; put the URI in MLFLOW_TRACKING_URI, or "
            "leave the password out and keep it in ~/.pgpass (PGPASSFILE) or PGPASSWORD",
        )
    from imbsweep.datasets import LOADERS

    kind = cfg["dataset"].get("kind")
    if kind not in LOADERS:
        raise ConfigError("dataset.kind", kind, f"one of {sorted(LOADERS)}")
    rm = cfg["report"].get("metric", "minority_f1")
    from imbsweep.evaluation import CALIBRATION_METRICS

    if rm not in (*METRICS, *CALIBRATION_METRICS):
        raise ConfigError("report.metric", rm, f"one of {[*METRICS, *CALIBRATION_METRICS]}")
    from imbsweep.ranges import load_claims

    load_claims(cfg["report"]["claims"])  # a typo fails now, not after the sweep
    from imbsweep.datasets import check_dataset

    check_dataset(cfg["dataset"])  # names, paths, columns: no loading


PROTOCOLS = ("kfold", "holdout")


def check_protocol(sp: dict, stage: str | None) -> None:
    """The evaluation protocol's keys agree with each other (docs/evaluation.md)."""
    protocol = sp.get("protocol", "kfold")
    if protocol not in PROTOCOLS:
        raise ConfigError("split.protocol", protocol, f"one of {list(PROTOCOLS)}")
    folds = sp.get("folds", 5)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError("split.folds", folds, "an int >= 2, e.g. split.folds=5")
    inner = sp.get("inner_folds", 0) or 0
    if isinstance(inner, bool) or not isinstance(inner, int) or inner == 1 or inner < 0:
        raise ConfigError("split.inner_folds", inner, "0 (not nested) or an int >= 2")
    nested = inner >= 2
    if nested and protocol != "kfold":
        raise ConfigError(
            "split.inner_folds", inner, "0 with split.protocol=holdout", "nested k-fold only"
        )
    outer = sp.get("outer_fold")
    if outer is not None and not nested:
        raise ConfigError("split.outer_fold", outer, "null without split.inner_folds >= 2")
    if nested and stage == "trial" and outer is None:
        raise ConfigError(
            "split.outer_fold",
            None,
            "the outer fold whose training rows a trial tunes on",
            "a nested trial never sees its outer fold's test rows",
        )
    if stage == "tuned" and not nested:
        raise ConfigError(
            "stage", stage, "run, trial, best or default", "tuned is benchmark_tuned's (nested)"
        )
    if protocol != "kfold":
        return
    if not sp.get("vary_with_seed", True):
        raise ConfigError(
            "split.vary_with_seed",
            False,
            "true with split.protocol=kfold, or add split.protocol=holdout",
            "k-fold draws a new fold assignment per seed; one fixed split is the holdout protocol",
        )
    if float(sp.get("holdout", 0.0) or 0.0) > 0:
        raise ConfigError(
            "split.holdout",
            sp["holdout"],
            "0 with split.protocol=kfold, or add split.protocol=holdout",
            "held-out rows are for the holdout protocol's tuning sweeps",
        )
    if stage in ("trial", "best", "default") and not nested:
        raise ConfigError(
            "split.protocol",
            protocol,
            "holdout when tuning (sweeps/tune_*.yaml set it), or nested k-fold "
            "(split.inner_folds >= 2, sweeps/benchmark_tuned.yaml)",
            "a study's trials and final table use held-out outer rows (split.holdout)",
        )


_SHORT = {
    "k_neighbors": "k",
    "weight_scale": "w",
    "n_estimators": "trees",
    "near_miss_version": "v",
    "focal_gamma": "gamma",
    "focal_alpha": "alpha",
    "noise_scale": "noise",
}


def method_label(m: dict) -> str:
    """E.g. ``smote_ann k=5``, ``weighted_ann w=1``, ``brf trees=100``."""
    from imbsweep.methods.pairing import label_keys, pairing_note

    parts = [m["name"]]
    note = pairing_note(m)  # e.g. "adasyn+logreg" when overridden away from the preset's pair
    if note:
        parts.append(note)
    for k in label_keys(m):  # declared by the sampler and model files (label:)
        v = m.get(k)
        parts.append(
            f"{_SHORT.get(k, k)}={v:g}" if isinstance(v, float) else f"{_SHORT.get(k, k)}={v}"
        )
    if m.get("threshold") not in (0.5, None):
        parts.append(f"thr={m['threshold']}")
    return " ".join(parts)
