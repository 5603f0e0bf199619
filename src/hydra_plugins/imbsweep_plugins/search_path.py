"""imbsweep's config search path: ``conf/``, plus the top-level ``sweeps/`` folder as a group.

Only those two folders are searched. Hydra lists every folder under a search path entry that
holds YAML as a config group (``--help`` walks them all), so pointing it at the project root made
``--help`` crawl ``.venv``, ``mlartifacts`` and ``multirun``: minutes, and growing with every run.
"""

from __future__ import annotations

from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.search_path_plugin import SearchPathPlugin

from imbsweep.paths import PROJECT_ROOT

_ROOT = PROJECT_ROOT
SWEEPS_GROUP = "sweeps"


class SweepsConfigSource(FileConfigSource):
    """A folder's ``sweeps/`` sub-folder as the ``sweeps`` config group, and nothing else in it.

    Search path entries are folders whose sub-folders are groups; this source shows Hydra only
    the one group, so the rest of the folder (virtualenvs, run outputs) is never listed.
    """

    @staticmethod
    def scheme() -> str:
        return "imbsweep-sweeps"

    @staticmethod
    def _inside(config_path: str) -> bool:
        return config_path.strip("/").split("/")[0] == SWEEPS_GROUP

    def is_group(self, config_path: str) -> bool:
        root = config_path.strip("/") == ""
        return (root or self._inside(config_path)) and super().is_group(config_path)

    def is_config(self, config_path: str) -> bool:
        return self._inside(config_path) and super().is_config(config_path)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") == "":
            ok = results_filter in (None, ObjectType.GROUP) and self.is_group(SWEEPS_GROUP)
            return [SWEEPS_GROUP] if ok else []
        if not self._inside(config_path):
            return []
        return super().list(config_path, results_filter)


class ImbsweepSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # Only for imbsweep's own app: other Hydra apps in the same environment are left alone.
        conf = (_ROOT / "conf").as_posix()
        if any(conf in (e.path or "") for e in search_path.get_path()):
            search_path.append("imbsweep-sweeps", f"{SweepsConfigSource.scheme()}://{_ROOT}")
            # Registers the schema the primary config names first, whoever composes it.
            import imbsweep.config  # noqa: F401
