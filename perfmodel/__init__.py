"""perfmodel: analytic roofline and IO model of efficient attention variants.

Public API: `predict(workloads, hardware)`, `Workload`, `load_hardware`, `load_model`, `load_config`.
Imports stay light (numpy, pyyaml): torch, streamlit and plotly are never imported from here, and
pandas only when predict() builds its DataFrame.
"""

from perfmodel.errors import UserError
from perfmodel.hardware import Hardware, load_hardware
from perfmodel.models import ModelShape, load_config, load_model

# Importing the submodule first and then its function keeps `perfmodel.predict` the function for good:
# a later `from perfmodel.predict import ...` finds the module loaded and leaves this name alone.
from perfmodel.predict import predict  # noqa: E402
from perfmodel.workload import Workload

__all__ = ["Hardware", "ModelShape", "UserError", "Workload", "load_config", "load_hardware", "load_model", "predict"]
