"""Split the iris data into train and test sets and standardise the features."""

import argparse
import csv
import json
import os
import random
import statistics

from sluice import Run

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"

parser = argparse.ArgumentParser()
parser.add_argument("--output_dir", required=True)
parser.add_argument("--test_fraction", type=float, default=0.2)
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

run = Run.get_context()
rows = run.input_datasets["iris_data"].to_records()

# Stratified split: the same share of each species goes to the test set.
rng = random.Random(args.seed)
train, test = [], []
for species in sorted({row[LABEL] for row in rows}):
    group = [row for row in rows if row[LABEL] == species]
    rng.shuffle(group)
    cut = round(len(group) * args.test_fraction)
    test.extend(group[:cut])
    train.extend(group[cut:])
rng.shuffle(train)
rng.shuffle(test)

# Standardise with the training set's mean and standard deviation only.
scaler = {
    name: {
        "mean": statistics.fmean(row[name] for row in train),
        "std": statistics.pstdev(row[name] for row in train) or 1.0,
    }
    for name in FEATURES
}


def scaled(row):
    out = {name: (row[name] - scaler[name]["mean"]) / scaler[name]["std"] for name in FEATURES}
    out[LABEL] = row[LABEL]
    return out


os.makedirs(args.output_dir, exist_ok=True)
for filename, subset in [("train.csv", train), ("test.csv", test)]:
    with open(os.path.join(args.output_dir, filename), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FEATURES + [LABEL])
        writer.writeheader()
        writer.writerows(scaled(row) for row in subset)
with open(os.path.join(args.output_dir, "scaler.json"), "w") as handle:
    json.dump(scaler, handle, indent=2)

run.log("rows", len(rows))
run.log("train_rows", len(train))
run.log("test_rows", len(test))
print("{} rows: {} for training, {} for testing".format(len(rows), len(train), len(test)))
