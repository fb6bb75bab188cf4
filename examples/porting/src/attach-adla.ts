import { ComputeTarget, ComputeTargetException } from '@sluice/runtime';
import { attachAdlaCompute } from '@sluice/step-adla';
import { ws } from './workspace.js';

const adlaComputeName = process.env.AML_ADLA_COMPUTE_NAME ?? '<adla_compute_name>';
const adlaResourceGroup = process.env.AML_ADLA_RESOURCE_GROUP ?? '<adla_resource_group>';
const adlaAccountName = process.env.AML_ADLA_ACCOUNT_NAME ?? '<adla_account_name>';

try {
  await ComputeTarget.get(ws, adlaComputeName);
  console.log('Compute target already exists');
} catch (error) {
  if (!(error instanceof ComputeTargetException)) throw error;
  console.log('compute not found');
  console.log(`adla_compute_name ${adlaComputeName}`);
  console.log(`adla_resource_id ${adlaResourceGroup}`);
  console.log(`adla_account_name ${adlaAccountName}`);
  // Attach ADLA (DefaultAzureCredential signs its requests)
  await attachAdlaCompute(ws, adlaComputeName, {
    resourceGroup: adlaResourceGroup,
    accountName: adlaAccountName,
    credential: 'default',
  });
}
