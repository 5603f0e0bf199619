"""imbsweep's config search path: ``sweeps/`` as a config group, and the schema registered."""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

_ROOT = Path(__file__).resolve().parents[3]


class ImbsweepSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # Only for imbsweep's own app: other Hydra apps in the same environment are left alone.
        conf = (_ROOT / "conf").as_posix()
        if any(conf in (e.path or "") for e in search_path.get_path()):
            search_path.append("imbsweep-root", f"file://{_ROOT.as_posix()}")
            # Registers the schema the primary config names first, whoever composes it.
            import imbsweep.config  # noqa: F401
