import { AmlCompute, ComputeTarget } from '@sluice/runtime';
import { ws } from './workspace.js';

const computeName = 'aml-compute';
const vmSize = 'STANDARD_NC6';
export let computeTarget: { readonly name: string };
if (computeName in ws.computeTargets) {
  computeTarget = ws.computeTargets[computeName]!;
  console.log('Found compute target: ' + computeName);
} else {
  console.log('Creating a new compute target...');
  // local compute: maxNodes steps run at once on this machine
  const provisioningConfig = AmlCompute.provisioningConfiguration({ vmSize, minNodes: 0, maxNodes: 4 });
  // create the compute target; it is ready when the promise resolves (wait_for_completion)
  const created = await ComputeTarget.create(ws, computeName, provisioningConfig);
  // For a more detailed view of current cluster status (status.serialize())
  console.log(created.describe());
  computeTarget = created;
}
