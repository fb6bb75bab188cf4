import { ComputeTarget, ComputeTargetException } from '@sluice/runtime';
import { attachDatabricksCompute } from '@sluice/step-databricks';
import { ws } from './workspace.js';

const databricksComputeName = process.env.AML_DATABRICKS_COMPUTE_NAME ?? '<databricks_compute_name>';
const databricksWorkspaceUrl = process.env.AML_DATABRICKS_WORKSPACE_URL ?? '<databricks_workspace_url>';
const databricksAccessToken = process.env.AML_DATABRICKS_ACCESS_TOKEN ?? '<databricks_access_token>';

try {
  await ComputeTarget.get(ws, databricksComputeName);
  console.log('Compute target already exists');
} catch (error) {
  if (!(error instanceof ComputeTargetException)) throw error;
  console.log('compute not found');
  console.log(`databricks_compute_name ${databricksComputeName}`);
  console.log(`databricks_workspace_url ${databricksWorkspaceUrl}`);
  // the token is a secret: it is stored with ws.setSecret and never printed
  await attachDatabricksCompute(ws, databricksComputeName, {
    workspaceUrl: databricksWorkspaceUrl,
    accessToken: databricksAccessToken,
  });
}
