"""Where the project's checkout is: conf/, the default MLflow store, `mlflow run`'s source."""

from __future__ import annotations

from pathlib import Path

# src/imbsweep/paths.py -> the checkout (the package is installed editable from it).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT_ROOT / "conf"
