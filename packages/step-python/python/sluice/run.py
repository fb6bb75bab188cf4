"""The run context a Sluice step's script runs in."""

from __future__ import annotations

import json
import math
import numbers
import os
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from .data import InputDataset

CONTEXT_ENV = "SLUICE_CONTEXT"
CONTEXT_FORMAT = 1
OFFLINE_ID = "OfflineRun"


class Workspace:
    """The workspace a run belongs to."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return "Workspace(name={!r})".format(self.name)


class Experiment:
    """The experiment a run belongs to."""

    def __init__(self, name: str, workspace: Workspace) -> None:
        self.name = name
        self.workspace = workspace

    def __repr__(self) -> str:
        return "Experiment(name={!r})".format(self.name)


class PipelineRun:
    """The pipeline run a step run belongs to."""

    def __init__(self, run_id: str, experiment: Experiment) -> None:
        self.id = run_id
        self.experiment = experiment

    def __repr__(self) -> str:
        return "PipelineRun(id={!r})".format(self.id)


class _Named(dict):
    """A dict whose missing keys raise a KeyError naming the keys there are."""

    def __init__(self, what: str, entries: Dict[str, Any]) -> None:
        super().__init__(entries)
        self._what = what

    def __missing__(self, key: str) -> Any:
        known = ", ".join(sorted(self)) or "none"
        raise KeyError("This step has no {} named {!r} (it has: {})".format(self._what, key, known))


class Run:
    """The current step run: its identity, parameters, inputs and outputs, and metric logging."""

    def __init__(
        self,
        run_id: str,
        name: str,
        experiment: Experiment,
        parent: Optional[PipelineRun] = None,
        parameters: Optional[Dict[str, Any]] = None,
        input_datasets: Optional[Dict[str, InputDataset]] = None,
        output_paths: Optional[Dict[str, str]] = None,
        metrics_file: Optional[str] = None,
    ) -> None:
        self.id = run_id
        self.name = name
        self.experiment = experiment
        self.parent = parent
        self.parameters = _Named("parameter", parameters or {})
        self.input_datasets = _Named("input", input_datasets or {})
        self.output_paths = _Named("output", output_paths or {})
        self._metrics_file = metrics_file

    @classmethod
    def get_context(cls) -> "Run":
        """The run described by the file in ``$SLUICE_CONTEXT``, or an offline run when it is not set."""
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            return cls(OFFLINE_ID, OFFLINE_ID, Experiment("offline", Workspace("offline")))
        with open(path, encoding="utf-8") as handle:
            context = json.load(handle)
        if context.get("format") != CONTEXT_FORMAT:
            raise RuntimeError(
                "{} describes a run in format {!r}, but this sluice module reads format {}; "
                "use the sluice module shipped with the @sluice/step-python that runs the step.".format(
                    path, context.get("format"), CONTEXT_FORMAT
                )
            )
        experiment = Experiment(context["experimentName"], Workspace(context["workspaceName"]))
        outputs = context.get("outputs", {})
        for folder in outputs.values():
            os.makedirs(folder, exist_ok=True)
        return cls(
            run_id=context["stepRunId"],
            name=context["stepName"],
            experiment=experiment,
            parent=PipelineRun(context["runId"], experiment),
            parameters=context.get("parameters", {}),
            input_datasets={
                name: InputDataset(name, entry["path"], entry["mode"])
                for name, entry in context.get("inputs", {}).items()
            },
            output_paths=outputs,
            metrics_file=context["metricsFile"],
        )

    @property
    def outputs(self) -> Dict[str, str]:
        """Output name -> the folder to write it into (the same as ``output_paths``)."""
        return self.output_paths

    def log(self, name: str, value: Any) -> None:
        """Log a metric: a number, string, boolean or a list of them."""
        self._record(name, _metric_value(name, value))

    def log_list(self, name: str, values: Any) -> None:
        """Log a list of values as one metric."""
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError("log_list({!r}) needs a list of values, got {}".format(name, type(values).__name__))
        self._record(name, _metric_value(name, list(values)))

    def log_row(self, name: str, **columns: Any) -> None:
        """Log one row of a table metric, e.g. ``run.log_row("scores", fold=1, accuracy=0.9)``."""
        self._record(name, {column: _scalar(name, value) for column, value in columns.items()})

    def _record(self, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("A metric name must be a non-empty string, got {!r}".format(name))
        if self._metrics_file is None:
            print("{}: {}".format(name, value), flush=True)
            return
        line = json.dumps(
            {
                "name": name,
                "value": value,
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
            allow_nan=False,
        )
        with open(self._metrics_file, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def __repr__(self) -> str:
        return "Run(id={!r}, name={!r})".format(self.id, self.name)


def _metric_value(name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_scalar(name, item) for item in value]
    return _scalar(name, value)


def _scalar(name: str, value: Any) -> Any:
    """A JSON-ready number, string or boolean (NumPy numbers included)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("Metric {!r}: {} is not a finite number".format(name, value))
        return number
    raise TypeError(
        "Metric {!r}: {!r} ({}) cannot be logged; log a number, string, boolean or a list of them".format(
            name, value, type(value).__name__
        )
    )
