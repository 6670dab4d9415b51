"""perfmodel: analytic roofline and IO model of efficient attention variants.

Public API: `predict(workloads, hardware)`, `Workload`, `load_hardware`, `load_model`, `load_config`.
Imports stay light (numpy, pyyaml): torch, streamlit and plotly are never imported from here.
"""

from perfmodel.errors import UserError
from perfmodel.hardware import Hardware, load_hardware
from perfmodel.models import ModelShape, load_config, load_model
from perfmodel.workload import Workload

__all__ = ["Hardware", "ModelShape", "UserError", "Workload", "load_config", "load_hardware", "load_model", "predict"]


def predict(workloads, hardware, calibrated: bool = True):
    """See perfmodel.predict.predict (imported lazily: it needs pandas)."""
    from perfmodel.predict import predict as _predict

    return _predict(workloads, hardware, calibrated=calibrated)
