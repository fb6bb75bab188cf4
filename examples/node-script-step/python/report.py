"""Turn the summary the Node.js step wrote into a short Markdown report."""

import argparse
import json
import os

from sluice import Run

parser = argparse.ArgumentParser()
parser.add_argument("--output", required=True)
args = parser.parse_args()

run = Run.get_context()
summary_folder = run.input_datasets["summary"]
with open(os.path.join(summary_folder, "summary.json")) as handle:
    summary = json.load(handle)

lines = [f"# Sensor readings ({summary['rows']} rows)", ""]
lines.append("| sensor | readings | mean temperature | mean humidity |")
lines.append("| ------ | -------- | ---------------- | ------------- |")
for sensor, stats in sorted(summary["sensors"].items()):
    lines.append(
        f"| {sensor} | {stats['count']} | {stats['temperature']['mean']:.2f} | {stats['humidity']['mean']:.1f} |"
    )
warmest = max(summary["sensors"], key=lambda sensor: summary["sensors"][sensor]["temperature"]["mean"])
lines += ["", f"Warmest sensor: {warmest}.", ""]

with open(os.path.join(args.output, "report.md"), "w") as handle:
    handle.write("\n".join(lines))

run.log("warmest", warmest)
print("\n".join(lines))
