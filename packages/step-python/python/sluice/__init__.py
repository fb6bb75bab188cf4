"""Sluice's run context for Python step scripts: ``from sluice import Run``.

Standard library only; works with Python 3.8 and later.
"""

from .data import InputDataset
from .run import Experiment, PipelineRun, Run, Workspace

__all__ = ["Experiment", "InputDataset", "PipelineRun", "Run", "Workspace"]
