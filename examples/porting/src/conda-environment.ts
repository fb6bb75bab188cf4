import { Environment, RunConfiguration } from '@sluice/core';

// The packages of the data prep step, kept in a conda environment file: its python= pin and pip: section
// are read now; its conda packages are installed with conda or micromamba when the environment is first
// built (without either, the step fails with CONDA_NOT_INSTALLED, saying what to install).
export const dataprepEnvironment = Environment.fromCondaSpecification('dataprep-env', 'environment.yml');

export const condaRunConfig = new RunConfiguration({ environment: dataprepEnvironment });
