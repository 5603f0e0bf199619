"""The ``smote_variants`` sampler: smote-variants' oversamplers in imbsweep, checked against the
package's own evaluation code, and the config around them (names, parameters, presets, sweeps).

The package is an optional extra; ``make test`` installs it (``make smote-variants``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import smote_variants as sv
import yaml
from conftest import CONF, ROOT, compose_cfg
from hydra import compose, initialize_config_dir
from sklearn.model_selection import RepeatedStratifiedKFold

from imbsweep import remedies
from imbsweep.config import MethodConf, check_config
from imbsweep.datasets.keel import load_bundled
from imbsweep.errors import ConfigError, SkipMethod
from imbsweep.evaluation import evaluate
from imbsweep.methods import fit_method, method_values, sv_sampler
from imbsweep.runner import job_params

TOP10 = (
    "polynom_fit_SMOTE_star", "ProWSyn", "SMOTE_IPF", "Lee", "SMOBD", "G_SMOTE", "CCR",
    "LVQ_SMOTE", "Assembled_SMOTE", "SMOTE_TomekLinks",
)  # fmt: skip


def mcfg(**kw) -> dict:
    base = dataclasses.asdict(MethodConf(name="t", model="random_forest"))
    return {**base, "sampler": "smote_variants", "oversampler": "ProWSyn", **kw}


# ------------------------------------------------------------------ against the peer


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ecoli1", "glass1", "new_thyroid1"])
def test_same_scores_as_smote_variants_own_evaluation(name):
    """ProWSyn + a random forest on smote-variants' own 2x5 folds: its
    ``evaluate_oversamplers`` and imbsweep's ``fit_method`` + ``evaluate`` agree exactly.

    The random streams match (the same seed reaches the oversampler and the forest), so the
    test-row probabilities must be equal, not close. Two things make that so: the peer runs
    with ``scaler=None`` (its default StandardScaler scales the training rows but predicts on
    unscaled test rows, see docs/methods.md "smote-variants"), and it gets the float32 values
    imbsweep fits on (imbsweep hands models float32; the forest casts to float32 either way).
    """
    ds = load_bundled(name)
    X = ds.X.to_numpy(dtype=np.float32).astype(np.float64)
    seed, validator = 7, {"n_repeats": 2, "n_splits": 5, "random_state": 5}
    # An odd forest: no test row scores exactly 0.5, where the two decision rules differ (ours:
    # minority when > 0.5; the peer's prediction_labels gives half of such tied rows to each).
    forest = {"n_estimators": 51, "random_state": seed, "n_jobs": 1}
    peer = sv.evaluation.evaluate_oversamplers(
        datasets=[{"data": X, "target": ds.y, "name": name}],
        oversamplers=[("smote_variants", "ProWSyn", {"random_state": seed})],
        classifiers=[("sklearn.ensemble", "RandomForestClassifier", forest)],
        validator_params=validator,
        scaler=None,
        parse_results=False,
        verbosity=0,
    )
    folds = list(RepeatedStratifiedKFold(**validator).split(X, ds.y))
    assert len(peer) == len(folds) == 10
    cfg = mcfg(n_estimators=51)
    check_config({**compose_cfg(), "method": cfg})
    ours, theirs = [], []
    # In fold order (its fold_descriptor is one dict shared by all folds: not an index to use).
    for p, (train, test) in zip(peer, folds, strict=True):
        assert p["error"] is None and p["oversampling_error"] is None
        np.testing.assert_array_equal(p["y_test"], ds.y[test])  # the same folds
        fitted = fit_method(cfg, ds, train, seed)
        score = fitted.score(ds.X.iloc[test])
        np.testing.assert_array_equal(score, p["y_pred"])
        assert not np.any(score == 0.5)
        m = evaluate(ds.y[test], fitted.predict(ds.X.iloc[test]), score)
        s = p["scores"]
        ours.append([m["roc_auc"], m["minority_f1"], m["accuracy"], m["balanced_accuracy"]])
        theirs.append([s["auc"], s["f1"], s["acc"], s["bacc"]])
        assert fitted.counts_after[1] == fitted.counts_after[0]  # proportion 1.0: balanced
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    # Not a pair of constant predictors agreeing: the forest ranks the test rows well.
    assert np.mean(ours, axis=0)[0] > 0.8


def test_the_peers_default_scaler_defect_is_real():
    """Why the comparison (and docs/methods.md) say scaler=None: with its default StandardScaler
    the forest is fitted on scaled rows and scores unscaled ones."""
    ds = load_bundled("new_thyroid1")
    X = ds.X.to_numpy(dtype=np.float64)
    common = {
        "datasets": [{"data": X, "target": ds.y, "name": "new_thyroid1"}],
        "oversamplers": [("smote_variants", "SMOTE", {"random_state": 0})],
        "classifiers": [("sklearn.tree", "DecisionTreeClassifier", {"random_state": 0})],
        "validator_params": {"n_repeats": 1, "n_splits": 5, "random_state": 5},
        "verbosity": 0,
    }
    scaled = sv.evaluation.evaluate_oversamplers(**common)
    plain = sv.evaluation.evaluate_oversamplers(**common, scaler=None)
    assert plain["auc_mean"].iloc[0] > 0.9
    assert scaled["auc_mean"].iloc[0] < plain["auc_mean"].iloc[0] - 0.2


# ------------------------------------------------------------------ the sampler


def test_seeded_training_rows_only_and_logged(tmp_path):
    ds = load_bundled("ecoli1")
    rows = np.arange(len(ds.y))
    train = rows[rows % 4 != 0]
    a = fit_method(mcfg(), ds, train, 3)
    b = fit_method(mcfg(), ds, train, 3)
    c = fit_method(mcfg(), ds, train, 4)
    X = ds.X.iloc[rows % 4 == 0]
    assert np.array_equal(a.score(X), b.score(X)) and not np.array_equal(a.score(X), c.score(X))
    n_min, n_maj = int(ds.y[train].sum()), int((ds.y[train] == 0).sum())
    assert a.counts_before == {0: n_maj, 1: n_min} and a.counts_after == {0: n_maj, 1: n_maj}
    assert a.info["k_used"] == 5 and a.info["sv_synthetic_rows"] == n_maj - n_min
    # Its parameters reach the oversampler, and every one it ran with is logged.
    cfg = compose_cfg(["method=prowsyn_rf", "method.oversampler_params.L=3"])
    logged = job_params(cfg)
    assert logged["method.oversampler"] == "ProWSyn"
    assert logged["method.oversampler_params.L"] == 3
    assert logged["method.oversampler_params.theta"] == 1.0  # given in the preset
    assert "method.k_neighbors" not in logged and "method.sampling_strategy" not in logged
    free = method_values(mcfg(oversampler="Lee", oversampler_params={"rejection_level": 0.3}))
    assert free["oversampler_params.rejection_level"] == 0.3
    assert free["oversampler_params.n_neighbors"] == 5  # its default, filled in


def test_tiny_minority_shrinks_n_neighbors_or_skips(caplog):
    ds = load_bundled("ecoli1")
    pos, neg = np.flatnonzero(ds.y == 1), np.flatnonzero(ds.y == 0)
    four = np.r_[neg, pos[:4]]
    with caplog.at_level(logging.WARNING, logger="imbsweep.methods"):
        f = fit_method(mcfg(), ds, four, 0)
    assert f.info["k_used"] == 3 and f.counts_after[1] == len(neg)
    assert "oversampler_params.n_neighbors=5 needs 6 minority rows, training has 4" in caplog.text
    for n in (1, 2):
        with pytest.raises(SkipMethod, match=f"^{n} minority row.*at least 3 .*smote-variants"):
            fit_method(mcfg(), ds, np.r_[neg, pos[:n]], 0)
    # An oversampler that declines the rows (generates nothing) skips the seed with its reason.
    with pytest.raises(SkipMethod, match="^ProWSyn generated no rows"):
        fit_method(mcfg(oversampler_params={"proportion": 0.0}), ds, four, 0)


# ------------------------------------------------------------------ bad input: one message


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"oversampler": "prowsyn"}, r"^method.oversampler='prowsyn' .*did you mean ProWSyn\?"),
        ({"oversampler": "polynom_fit_smote"}, r"did you mean polynom_fit_SMOTE_\w+ or "),
        ({"oversampler": ""}, r"^method.oversampler='' .*e.g. method.oversampler=ProWSyn"),
        (
            {"oversampler_params": {"n_neigbors": 3}},
            r"^method.oversampler_params.n_neigbors=3 .*ProWSyn.*did you mean n_neighbors\?",
        ),
        ({"oversampler_params": {"theta": -1}}, r"^method.oversampler_params=.*theta"),
    ],
)
def test_bad_names_and_values_fail_at_start(bad, match):
    with pytest.raises(ConfigError, match=match):
        check_config({**compose_cfg(), "method": mcfg(**bad)})


def test_without_the_extra_one_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "smote_variants", None)  # import fails as if absent
    sv_sampler.package.cache_clear()
    sv_sampler.names.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"^method.sampler='smote_variants' .*make smote-v"):
            check_config({**compose_cfg(), "method": mcfg()})
    finally:
        sv_sampler.package.cache_clear()
        sv_sampler.names.cache_clear()


def test_users_who_do_not_ask_for_it_never_import_it():
    code = (
        "import sys, imbsweep.runner, imbsweep.config, imbsweep.methods\n"
        "from imbsweep.methods import fit_method\n"
        "assert 'smote_variants' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------------------------ names, presets, sweeps


def _words(text: str) -> set[str]:
    return {w.strip(",.`") for w in text.split()}


def test_help_and_docs_list_every_oversampler():
    names = set(sv_sampler.names())
    assert len(names) == 91 and set(TOP10) <= names
    help_text = yaml.safe_load((CONF / "hydra" / "help" / "imbsweep.yaml").read_text())["footer"]
    block = help_text.split("method.oversampler ")[1].split("\n\n")[0]
    assert _words(block) >= names and not (_words(block) & {"ProWSin"})
    page = (ROOT / "docs" / "methods.md").read_text()
    section = page.split("\n## smote-variants\n")[1].split("\n## ")[0]
    assert names <= _words(section)


PRESETS = {p.stem: yaml.safe_load(p.read_text()) for p in (CONF / "method").glob("*.yaml")}
SV_PRESETS = {k: v for k, v in PRESETS.items() if v.get("sampler") == "smote_variants"}


def test_presets_spell_out_every_parameter_and_pass_the_checks():
    assert len(SV_PRESETS) >= 3
    for name, p in SV_PRESETS.items():
        own = sv_sampler.own_params(getattr(sv, p["oversampler"]))
        # Every parameter with a scalar default (not n_jobs, a speed knob), at that default.
        scalar = {k: v for k, v in own.items() if isinstance(v, int | float | str)}
        assert p["oversampler_params"] == {k: v for k, v in scalar.items() if k != "n_jobs"}
        check_config(compose_cfg([f"method={name}"]))
        assert p["oversampler"] in TOP10


def test_comparison_sweep_runs_the_top10_against_smote_and_no_remedy():
    sweep = yaml.safe_load((ROOT / "sweeps" / "smote_variants_keel.yaml").read_text())
    assert "split" not in sweep  # the default protocol, whatever it is, applies
    params = sweep["hydra"]["sweeper"]["params"]
    methods = params["method"].split(",")
    assert methods[:3] == ["rf", "rf_tuned", "smote_rf"]
    assert [PRESETS[m]["oversampler"] for m in methods[3:]] == list(TOP10)
    assert all(PRESETS[m]["model"] == "random_forest" for m in methods)
    cfgs = {m: compose_cfg(["sweeps=smote_variants_keel", f"method={m}"]) for m in methods}
    for cfg in cfgs.values():
        check_config(cfg)
    # The remedy-effect table pairs each of the eleven with both bases, from the params the jobs
    # log (as MLflow gives them back: text), on the same seeds and folds.
    rows = pd.DataFrame(
        {
            "dataset": "d", "stage": "run", "label": m, "job_id": m, "run_id": f"{m}{u}",
            "seed": u // 2, "fold": u % 2, "minority_f1": 0.5 + 0.01 * i + 0.001 * u,
            "params.data.digest": "x",
            **{f"params.{k}": str(v) for k, v in job_params(cfgs[m]).items()},
        }
        for i, m in enumerate(methods)
        for u in range(4)
    )  # fmt: skip
    eff = remedies.remedy_effects(rows)
    remedied = [m for m in methods if m not in ("rf", "rf_tuned")]
    want = {(m, "rf", "0.5") for m in remedied} | {(m, "rf_tuned", "tuned") for m in remedied}
    assert set(zip(eff["method"], eff["base"], eff["threshold"], strict=True)) == want
    tuned = eff[eff["base"] == "rf_tuned"].set_index("method")["effect"]
    assert tuned["prowsyn_rf"] == pytest.approx(0.01 * (methods.index("prowsyn_rf") - 1))


def _with_hydra(overrides: list[str]):
    """The composed config with its hydra node (the sweeper's study name and search space)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _one_trial(overrides: list[str]) -> list[str]:
    """A trial's overrides: the first value of each ``key=choice(a,b,...)``."""
    return [re.sub(r"=choice\(([^,)]*).*\)$", r"=\1", o) for o in overrides]


def test_tuning_sweep_is_the_oversamplers_own_grid():
    keel = ["dataset=keel", "dataset.name=glass1"]
    sweeper = _with_hydra(["sweeps=tune_prowsyn_rf", *keel]).hydra.sweeper
    assert sweeper.study_name == "tune_prowsyn_rf"
    given = [f"{k}={v}" for k, v in sweeper.params.items()]
    assert set(given) == set(sv_sampler.space_overrides("ProWSyn"))
    # A trial and the final jobs, as the study launches them, pass every check.
    for stage in ("trial", "best"):
        cfg = compose_cfg(["sweeps=tune_prowsyn_rf", *keel, *_one_trial(given), f"stage={stage}"])
        assert cfg["method"]["oversampler_params"]["proportion"] == 0.1
        check_config(cfg)
    space = sv_sampler.search_space("ProWSyn")
    assert space["method.oversampler_params.proportion"] == [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
    # Values that no command line can carry (SMOTE_IPF's classifier spec) stay out.
    assert set(sv_sampler.search_space("SMOTE_IPF")) == {
        "method.oversampler_params." + k for k in ("proportion", "n_neighbors", "voting")
    }
    assert "method.oversampler_params.voting=majority,consensus" in sv_sampler.space_overrides(
        "SMOTE_IPF", grid=True
    )
    # Under a preset that does not name a key, the key is appended (+).
    lee = sv_sampler.space_overrides("Lee", method="prowsyn_rf")
    assert "method.oversampler_params.n_neighbors=choice(3,5,7,11,17)" in lee
    assert "+method.oversampler_params.rejection_level=choice(0.3,0.5,0.7)" in lee
    # sweeps=tune_smote_variants: the space comes from the command line, as its comment says.
    for method, study in (
        ("lee_rf", "tune_Lee_random_forest"),
        ("prowsyn_rf", "tune_ProWSyn_random_forest"),
    ):
        args = ["sweeps=tune_smote_variants", f"method={method}", *keel]
        sweeper = _with_hydra(args).hydra.sweeper
        assert sweeper.study_name == study
        assert not sweeper.params
        space = sv_sampler.space_overrides("Lee", method=method)
        preset = compose_cfg(args)["method"]["oversampler_params"]
        for o in space:  # + exactly on the keys the preset lacks
            key = o.lstrip("+").split("=")[0].rsplit(".", 1)[1]
            assert o.startswith("+") == (key not in preset), (method, o)
    # The comment's own command: Lee's grid under lee_rf, as a trial and a final job run it.
    lee = ["sweeps=tune_smote_variants", "method=lee_rf", *keel]
    for stage in ("trial", "default"):
        space = sv_sampler.space_overrides("Lee", method="lee_rf")
        check_config(compose_cfg([*lee, *_one_trial(space), f"stage={stage}"]))
