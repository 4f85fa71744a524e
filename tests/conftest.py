import pathlib
import sys

# Lets tests import the shared helpers in tests/layer_checks.py.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
