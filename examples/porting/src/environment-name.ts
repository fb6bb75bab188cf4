import { RunConfiguration } from '@sluice/core';

export const amlRunConfig = new RunConfiguration();
amlRunConfig.environment.name = 'MyEnvironment';
amlRunConfig.environment.version = '1.0';
