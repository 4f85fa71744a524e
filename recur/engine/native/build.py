"""Build the native engine's C++ sources on first use and load them as ``torch.ops.recur_native``.

The library is compiled with :func:`torch.utils.cpp_extension.load` (ninja, the C++ compiler
``CXX`` or ``c++``) into the torch extensions cache (``TORCH_EXTENSIONS_DIR`` or
``~/.cache/torch_extensions``), in a directory keyed by a hash of the sources, the
flags, the torch version and the CPU, so edited sources rebuild and a cache shared between
machines never loads code built for another CPU. Later processes load the cached library
directly. A failed build is remembered for the process: the caller falls back to the Python
engine and :func:`status` says why.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCES = Path(__file__).parent / "csrc"
NAME = "recur_native"
#: -march=native: the library is built on the machine that runs it (the CPU is in the cache key)
#: and AVX-512/AVX2 vectorise the activations. -fopenmp: at::parallel_for is only parallel when
#: the caller is compiled with OpenMP; the library links libgomp.so.1, which resolves to the copy
#: torch already loaded (one thread pool).
FLAGS = ("-O3", "-march=native", "-fopenmp", "-DNDEBUG")
LDFLAGS = ("-fopenmp",)


@dataclass
class Status:
    """Outcome of loading the native library in this process."""

    available: bool | None = None  # None: not tried yet
    reason: str = "not loaded yet"
    library: str | None = None
    build_seconds: float | None = None
    flags: tuple[str, ...] = FLAGS
    warned: set[str] = field(default_factory=set)  # fallback warnings already given


_status = Status()
_lock = threading.Lock()  # one build per process, whichever thread runs a layer first


def status() -> Status:
    """The current :class:`Status` (without trying to load)."""
    return _status


def _cpu_fingerprint() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            lines = [ln for ln in handle if ln.startswith(("model name", "flags"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def build_directory() -> Path:
    """The cache directory of the current sources, flags, torch version and CPU."""
    digest = hashlib.sha256()
    for path in sorted(SOURCES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(" ".join(FLAGS + LDFLAGS).encode() + torch.__version__.encode())
    digest.update(_cpu_fingerprint().encode())
    from torch.utils.cpp_extension import get_default_build_root

    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root())
    return root / f"{NAME}_{digest.hexdigest()[:16]}"


def _compile(directory: Path) -> None:
    from torch.utils import cpp_extension

    directory.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in SOURCES.glob("*.cpp"))
    log.info("recur: building the native engine in %s (first use only)", directory)
    with warnings.catch_warnings():  # cpp_extension's notes on compilers are not ours to raise
        warnings.simplefilter("ignore")
        cpp_extension.load(
            NAME,
            sources,
            extra_cflags=list(FLAGS),
            extra_ldflags=list(LDFLAGS),
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )


def load() -> bool:
    """Load (building it first if needed) the native library; True if it is usable."""
    if _status.available is not None:
        return _status.available
    with _lock:
        if _status.available is None:
            _load()
    return _status.available


# Under torch.compile, Dynamo calls load() while tracing and keeps its result as a constant
# instead of tracing the lock and the file system: the marker torch.compiler.assume_constant_result
# sets, set here directly because that function imports torch._dynamo (a second at import).
load._dynamo_marked_constant = True  # type: ignore[attr-defined]


def _load() -> None:
    try:
        directory = build_directory()
        library = directory / f"{NAME}.so"
        # A lock file means another process is building: let cpp_extension wait for it.
        if library.exists() and not (directory / "lock").exists():
            torch.ops.load_library(str(library))
        else:
            start = time.perf_counter()
            _compile(directory)
            _status.build_seconds = time.perf_counter() - start
        _status.available, _status.library = True, str(library)
        _status.reason = "built and loaded"
    except Exception as error:  # no compiler, no ninja, a link error: fall back, say why
        _status.available = False
        _status.reason = f"{type(error).__name__}: {_first_error_line(str(error))}"
        log.info("recur: native engine unavailable: %s", error)


def _first_error_line(text: str) -> str:
    """The line of a (possibly long) compiler log that says what went wrong."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()] or [""]
    keys = ("error:", "not found", "no such file", "undefined symbol", "cannot find")
    return next((ln for ln in lines if any(k in ln.lower() for k in keys)), lines[-1])[:300]


def warn_once(key: str, message: str) -> None:
    """A fallback notice through :mod:`warnings`, given once per process and ``key``."""
    if key not in _status.warned:
        _status.warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
