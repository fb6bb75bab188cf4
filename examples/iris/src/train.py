"""Train a multinomial logistic regression (softmax) by batch gradient descent."""

import argparse
import csv
import json
import math
import os

from sluice import Run

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
LABEL = "species"

parser = argparse.ArgumentParser()
parser.add_argument("--input_dir", required=True)
parser.add_argument("--output_dir", required=True)
parser.add_argument("--learning_rate", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=1000)
args = parser.parse_args()

run = Run.get_context()

with open(os.path.join(args.input_dir, "train.csv"), newline="") as handle:
    rows = list(csv.DictReader(handle))
X = [[float(row[name]) for name in FEATURES] for row in rows]
classes = sorted({row[LABEL] for row in rows})
y = [classes.index(row[LABEL]) for row in rows]
n, d, k = len(X), len(FEATURES), len(classes)


def softmax(scores):
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def probabilities(weights, bias, x):
    return softmax([sum(w * v for w, v in zip(weights[c], x)) + bias[c] for c in range(k)])


# Zero initialisation: the result depends only on the data and the hyperparameters.
weights = [[0.0] * d for _ in range(k)]
bias = [0.0] * k
for epoch in range(args.epochs):
    grad_w = [[0.0] * d for _ in range(k)]
    grad_b = [0.0] * k
    loss = 0.0
    for x, label in zip(X, y):
        p = probabilities(weights, bias, x)
        loss -= math.log(max(p[label], 1e-12))
        for c in range(k):
            error = p[c] - (1.0 if c == label else 0.0)
            grad_b[c] += error
            for j in range(d):
                grad_w[c][j] += error * x[j]
    for c in range(k):
        bias[c] -= args.learning_rate * grad_b[c] / n
        for j in range(d):
            weights[c][j] -= args.learning_rate * grad_w[c][j] / n
    loss /= n
    if epoch % 100 == 0:
        print("epoch {:4d}  loss {:.4f}".format(epoch, loss))

# The loss after the last update, and the training accuracy.
final_loss = 0.0
correct = 0
for x, label in zip(X, y):
    p = probabilities(weights, bias, x)
    final_loss -= math.log(max(p[label], 1e-12)) / n
    correct += p.index(max(p)) == label
train_accuracy = correct / n

os.makedirs(args.output_dir, exist_ok=True)
with open(os.path.join(args.output_dir, "model.json"), "w") as handle:
    json.dump(
        {
            "type": "multinomial_logistic_regression",
            "classes": classes,
            "features": FEATURES,
            "weights": weights,
            "bias": bias,
            "hyperparameters": {"learning_rate": args.learning_rate, "epochs": args.epochs},
        },
        handle,
        indent=2,
    )

run.log("learning_rate", args.learning_rate)
run.log("final_loss", final_loss)
run.log("train_accuracy", train_accuracy)
print("final loss {:.4f}, train accuracy {:.3f}".format(final_loss, train_accuracy))
