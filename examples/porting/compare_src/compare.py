"""Comparison: read the trained model (--model) and report its accuracy against a fixed bar."""

import argparse
import json
import os

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
args = parser.parse_args()

with open(os.path.join(args.model, "model.json")) as handle:
    model = json.load(handle)

run = Run.get_context()
run.log("accuracy", model["accuracy"])
run.log("beats_baseline", model["accuracy"] > 0.8)
print(f"model accuracy {model['accuracy']:.3f}")
