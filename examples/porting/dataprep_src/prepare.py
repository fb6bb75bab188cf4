"""Data preparation: read the iris files given as --input, keep complete rows, write them to --output."""

import argparse
import csv
import os

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()

files = [os.path.join(args.input, name) for name in sorted(os.listdir(args.input)) if name.endswith(".csv")]
rows = []
for path in files:
    with open(path, newline="") as handle:
        rows.extend(row for row in csv.DictReader(handle) if all(value != "" for value in row.values()))

os.makedirs(args.output, exist_ok=True)
with open(os.path.join(args.output, "prepped.csv"), "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
    writer.writeheader()
    writer.writerows(rows)

Run.get_context().log("rows", len(rows))
print(f"prepared {len(rows)} rows")
