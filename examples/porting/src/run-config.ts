import { CondaDependencies, Environment, RunConfiguration } from '@sluice/core';
import { computeTarget } from './compute.js';
import { ws } from './workspace.js';

export const amlRunConfig = new RunConfiguration();
// `computeTarget` as defined in the compute section above
amlRunConfig.target = computeTarget;

// Sluice has no curated environments: register one first with ws.registerEnvironment(new Environment(…))
const USE_CURATED_ENV = process.env.USE_CURATED_ENV === '1';
if (USE_CURATED_ENV) {
  const curatedEnvironment = Environment.get(ws, 'AzureML-Tutorial');
  amlRunConfig.environment = curatedEnvironment;
} else {
  const environment = amlRunConfig.environment as Environment;
  environment.python.userManagedDependencies = false;

  // Add some packages relied on by data prep step (recorded and part of reuse; Sluice installs nothing)
  environment.python.condaDependencies = CondaDependencies.create({
    condaPackages: ['pandas', 'scikit-learn'],
    pipPackages: ['azureml-dataprep[fuse,pandas]'],
    pinSdkVersion: false,
  });
}
