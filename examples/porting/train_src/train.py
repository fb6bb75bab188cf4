"""Training: a nearest-centroid classifier of the prepared iris rows (--prepped_data) into --training_results."""

import argparse
import csv
import json
import os

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--prepped_data", required=True)
parser.add_argument("--training_results", required=True)
args = parser.parse_args()

with open(os.path.join(args.prepped_data, "prepped.csv"), newline="") as handle:
    rows = list(csv.DictReader(handle))
features = [name for name in rows[0] if name != "species"]

centroids = {}
for species in sorted({row["species"] for row in rows}):
    group = [row for row in rows if row["species"] == species]
    centroids[species] = [sum(float(row[name]) for row in group) / len(group) for name in features]


def predict(row):
    point = [float(row[name]) for name in features]
    return min(centroids, key=lambda species: sum((a - b) ** 2 for a, b in zip(point, centroids[species])))


accuracy = sum(predict(row) == row["species"] for row in rows) / len(rows)
os.makedirs(args.training_results, exist_ok=True)
with open(os.path.join(args.training_results, "model.json"), "w") as handle:
    json.dump({"features": features, "centroids": centroids, "accuracy": accuracy}, handle, indent=2)

Run.get_context().log("accuracy", accuracy)
print(f"training accuracy {accuracy:.3f}")
