"""Real data sets that ship inside PyPI packages, found on disk without importing the package.

Importing aeon pulls in numba and pandas (seconds); its data files are plain ``.ts`` text, so
they are located through the package's import spec and read by recur's own parser. The packages
come with ``pip install 'recur[demos]'`` (the dev install has them); without them the error says
so and how to pass one's own file instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def package_dir(package: str, purpose: str) -> Path:
    """The installed directory of ``package`` (ValueError naming ``purpose`` if missing)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"data: {purpose} reads data shipped with the {package!r} package, which is not "
            f"installed; pip install 'recur[demos]' (or pass --data FILE)"
        )
    return Path(spec.submodule_search_locations[0])


def aeon_dataset(name: str, split: str) -> Path:
    """The ``.ts`` file of one of aeon's bundled UCR/UEA data sets, e.g. ("JapaneseVowels",
    "TRAIN")."""
    path = (
        package_dir("aeon", f"the {name} demo") / "datasets" / "data" / name / f"{name}_{split}.ts"
    )
    if not path.is_file():
        raise ValueError(f"data: {path} is missing from the installed aeon package")
    return path


def file_digest(*paths: str | Path | None) -> str:
    """sha256 over the bytes of the given files (None entries are skipped)."""
    digest = hashlib.sha256()
    for path in paths:
        if path is not None:
            digest.update(Path(path).read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def demo_digest(settings: dict) -> str:
    """sha256 of a generated demo's settings, which determine its data as files would."""
    return hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()


def data_digest(paths: tuple[str | Path | None, ...], demo_settings: dict) -> str:
    """The digest of a task's data: of the user's files (``paths[0]`` the training file), or of
    the built-in demo's settings when there is none."""
    return demo_digest(demo_settings) if paths[0] is None else file_digest(*paths)
