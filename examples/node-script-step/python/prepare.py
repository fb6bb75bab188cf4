"""Write a CSV of sensor readings (made up, but the same every time for the same number of rows)."""

import argparse
import csv
import os
import random

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()

generator = random.Random(42)
with open(os.path.join(args.output, "readings.csv"), "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["sensor", "temperature", "humidity"])
    for index in range(args.rows):
        sensor = "abc"[index % 3]
        temperature = round(18 + 6 * generator.random() + (2 if sensor == "c" else 0), 2)
        humidity = round(40 + 20 * generator.random(), 1)
        writer.writerow([sensor, temperature, humidity])

Run.get_context().log("rows", args.rows)
print(f"wrote {args.rows} readings")
