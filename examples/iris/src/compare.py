"""Evaluate the trained model on the test set against a nearest-centroid baseline."""

import argparse
import csv
import json
import math
import os

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--data_dir", required=True)
parser.add_argument("--model_dir", required=True)
parser.add_argument("--output_dir", required=True)
args = parser.parse_args()

run = Run.get_context()

with open(os.path.join(args.model_dir, "model.json")) as handle:
    model = json.load(handle)
features, classes = model["features"], model["classes"]


def read(name):
    with open(os.path.join(args.data_dir, name), newline="") as handle:
        return [([float(row[f]) for f in features], row["species"]) for row in csv.DictReader(handle)]


train, test = read("train.csv"), read("test.csv")


def model_predict(x):
    scores = [sum(w * v for w, v in zip(weights, x)) + b for weights, b in zip(model["weights"], model["bias"])]
    return classes[scores.index(max(scores))]


# Baseline: predict the class whose training-set mean is closest.
centroids = {}
for label in classes:
    points = [x for x, y in train if y == label]
    centroids[label] = [sum(column) / len(points) for column in zip(*points)]


def baseline_predict(x):
    return min(classes, key=lambda label: math.dist(x, centroids[label]))


def evaluate(predict):
    matrix = [[0] * len(classes) for _ in classes]
    for x, label in test:
        matrix[classes.index(label)][classes.index(predict(x))] += 1
    accuracy = sum(matrix[i][i] for i in range(len(classes))) / len(test)
    return accuracy, matrix


test_accuracy, confusion = evaluate(model_predict)
baseline_accuracy, baseline_confusion = evaluate(baseline_predict)
if test_accuracy > baseline_accuracy:
    better = "model"
elif test_accuracy < baseline_accuracy:
    better = "baseline"
else:
    better = "tie"

report = {
    "test_rows": len(test),
    "classes": classes,
    "model": {"accuracy": test_accuracy, "confusion_matrix": confusion},
    "baseline": {"name": "nearest_centroid", "accuracy": baseline_accuracy, "confusion_matrix": baseline_confusion},
    "better": better,
    "hyperparameters": model["hyperparameters"],
}
os.makedirs(args.output_dir, exist_ok=True)
with open(os.path.join(args.output_dir, "report.json"), "w") as handle:
    json.dump(report, handle, indent=2)

run.log("test_accuracy", test_accuracy)
run.log("baseline_accuracy", baseline_accuracy)

print("Test set: {} rows".format(len(test)))
print("  logistic regression  {:.3f}".format(test_accuracy))
print("  nearest centroid     {:.3f}".format(baseline_accuracy))
print("Better: {}".format(better))
print("Confusion matrix (rows: actual, columns: predicted by the model)")
width = max(len(label) for label in classes)
print("  " + " " * width + "".join("{:>12}".format(label) for label in classes))
for label, counts in zip(classes, confusion):
    print("  " + label.rjust(width) + "".join("{:>12}".format(count) for count in counts))
