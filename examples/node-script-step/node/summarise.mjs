// Summarise the readings CSV per sensor: count, min, max and mean of each numeric column.
// Run as a NodeScriptStep: `node summarise.mjs <input folder> <output folder>`.
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [inputFolder, outputFolder] = process.argv.slice(2);

// The run context Sluice writes for every step: inputs, outputs, parameters and the metrics file.
const context = JSON.parse(readFileSync(process.env.SLUICE_CONTEXT, 'utf8'));
const logMetric = (name, value) =>
  appendFileSync(context.metricsFile, `${JSON.stringify({ name, value, time: new Date().toISOString() })}\n`);

const csvFile = readdirSync(inputFolder).find((name) => name.endsWith('.csv'));
const [header, ...rows] = readFileSync(join(inputFolder, csvFile), 'utf8').trim().split(/\r?\n/);
const columns = header.split(',');
const numeric = columns.filter((column) => column !== 'sensor');

const sensors = {};
for (const row of rows) {
  const record = Object.fromEntries(row.split(',').map((cell, index) => [columns[index], cell]));
  const entry = (sensors[record.sensor] ??= { count: 0 });
  entry.count += 1;
  for (const column of numeric) {
    const value = Number(record[column]);
    const stats = (entry[column] ??= { min: value, max: value, sum: 0 });
    stats.min = Math.min(stats.min, value);
    stats.max = Math.max(stats.max, value);
    stats.sum += value;
  }
}
for (const entry of Object.values(sensors)) {
  for (const column of numeric) {
    const { sum, ...stats } = entry[column];
    entry[column] = { ...stats, mean: Math.round((sum / entry.count) * 1000) / 1000 };
  }
}

writeFileSync(
  join(outputFolder, 'summary.json'),
  `${JSON.stringify({ rows: rows.length, sensors }, null, 2)}\n`,
);
logMetric('sensors', Object.keys(sensors).length);
console.log(`summarised ${rows.length} readings from ${Object.keys(sensors).length} sensors`);
