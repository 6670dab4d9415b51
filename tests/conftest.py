"""Shared test setup: run from any folder, profiles from the repository."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PERFMODEL_PROFILES", str(ROOT / "profiles"))
