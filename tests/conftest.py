import atexit
import os
import pathlib
import shutil
import sys
import tempfile

# Lets tests import the shared helpers in tests/layer_checks.py.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# torch.compile's on-disk cache (shared in /tmp by default) does not notice when recur's custom
# operators change their Python side, so a cache left by an older checkout can fail test_compile:
# every test session compiles into its own directory, removed at exit.
_inductor_cache = tempfile.mkdtemp(prefix="recur-inductor-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _inductor_cache
atexit.register(shutil.rmtree, _inductor_cache, ignore_errors=True)
