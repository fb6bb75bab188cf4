import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { CopyButton, ErrorBox, Loaded, Section, Status } from '../components/common.js';
import { api, type EndpointEntity, type PublishedPipelineEntity } from '../lib/api.js';
import { formatTime } from '../lib/format.js';
import { href } from '../lib/route.js';
import { initialValues, toAssignments, type ParameterDefinition } from '../lib/submit-form.js';
import { navigate } from '../lib/use-route.js';

function useCanSubmit(): boolean {
  const whoami = useQuery({ queryKey: ['whoami'], queryFn: api.whoami, staleTime: Infinity });
  return whoami.data?.scope === 'submit';
}

function EnableButton({
  active,
  onChange,
}: {
  active: boolean;
  onChange: (enabled: boolean) => Promise<unknown>;
}) {
  const client = useQueryClient();
  const change = useMutation({
    mutationFn: onChange,
    onSuccess: () => client.invalidateQueries({ queryKey: ['published'] }),
  });
  return (
    <>
      <button
        type="button"
        className="small"
        data-testid={active ? 'disable-button' : 'enable-button'}
        onClick={() => change.mutate(!active)}
        disabled={change.isPending}
      >
        {active ? 'Disable' : 'Enable'}
      </button>
      {change.isError && <ErrorBox error={change.error} />}
    </>
  );
}

export function PipelinesPage() {
  const pipelines = useQuery({ queryKey: ['published', 'pipelines'], queryFn: api.pipelines });
  return (
    <div>
      <h1>Published pipelines</h1>
      <Loaded query={pipelines}>
        {(rows) =>
          rows.length === 0 ? (
            <div className="muted">No published pipelines.</div>
          ) : (
            <>
              {rows.map((pipeline) => (
                <PipelineCard key={pipeline.Id} pipeline={pipeline} />
              ))}
            </>
          )
        }
      </Loaded>
    </div>
  );
}

function PipelineCard({ pipeline }: { pipeline: PublishedPipelineEntity }) {
  const canSubmit = useCanSubmit();
  const active = pipeline.Status === 'Active';
  return (
    <Section
      title={`${pipeline.Name}${pipeline.Version ? ` v${pipeline.Version}` : ''}`}
      actions={
        <div className="actions">
          <Status status={pipeline.Status} />
          {canSubmit && (
            <EnableButton
              active={active}
              onChange={(enabled) => api.setPipelineEnabled(pipeline.Id, enabled)}
            />
          )}
        </div>
      }
    >
      {pipeline.Description && <p>{pipeline.Description}</p>}
      <div className="facts">
        <span className="mono">{pipeline.Id}</span>
        <span>Published {formatTime(pipeline.CreatedAt)}</span>
      </div>
      <RestUrl url={pipeline.Url} />
      {canSubmit && active && (
        <SubmitForm
          name={pipeline.Name}
          parameters={pipeline.Parameters}
          submit={(submission) => api.submitPipeline(pipeline.Id, submission)}
        />
      )}
      <ProducedRuns pipelineId={pipeline.Id} />
    </Section>
  );
}

/** The runs a published pipeline produced, read when opened. */
function ProducedRuns({ pipelineId, label = 'Runs it produced' }: { pipelineId: string; label?: string }) {
  const [open, setOpen] = useState(false);
  const runs = useQuery({
    queryKey: ['published', 'pipeline-runs', pipelineId],
    queryFn: () => api.pipelineRuns(pipelineId),
    enabled: open,
  });
  return (
    <div>
      <button type="button" className="link" onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {label}
      </button>
      {open && (
        <Loaded query={runs}>
          {(list) =>
            list.length === 0 ? (
              <div className="muted">None yet.</div>
            ) : (
              <ul className="run-links">
                {list.map((run) => (
                  <li key={run.Id}>
                    <Status status={run.Status.StatusDetail} />{' '}
                    <a className="mono" href={href(['runs', run.Id])}>
                      {run.Id}
                    </a>{' '}
                    <span className="muted">{formatTime(run.Status.CreationTime)}</span>
                  </li>
                ))}
              </ul>
            )
          }
        </Loaded>
      )}
    </div>
  );
}

function RestUrl({ url }: { url: string }) {
  return (
    <div className="rest-url">
      <span className="muted">REST</span> <code>{url}</code> <CopyButton text={url} />
    </div>
  );
}

/** The submit form: one typed input per parameter, defaults filled in; after submitting, the new run's page. */
function SubmitForm({
  name,
  parameters,
  submit,
}: {
  name: string;
  parameters: ParameterDefinition[];
  submit: (submission: {
    ExperimentName: string;
    ParameterAssignments: Record<string, unknown>;
  }) => Promise<{ Id: string }>;
}) {
  const [experiment, setExperiment] = useState(name.replace(/[^A-Za-z0-9_-]/g, '_'));
  const [values, setValues] = useState(() => initialValues(parameters));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const run = useMutation({
    mutationFn: submit,
    onSuccess: (entity) => navigate(href(['runs', entity.Id])),
  });
  return (
    <form
      className="submit-form"
      data-testid="submit-form"
      onSubmit={(event) => {
        event.preventDefault();
        const { assignments, errors: found } = toAssignments(parameters, values);
        setErrors(found);
        if (Object.keys(found).length === 0)
          run.mutate({ ExperimentName: experiment, ParameterAssignments: assignments });
      }}
    >
      <label>
        Experiment
        <input value={experiment} onChange={(event) => setExperiment(event.target.value)} required />
      </label>
      {parameters.map((parameter) => (
        <label key={parameter.Name}>
          <span>
            {parameter.Name} <span className="muted">({parameter.Type})</span>
          </span>
          {parameter.Type === 'boolean' ? (
            <input
              type="checkbox"
              name={parameter.Name}
              checked={values[parameter.Name] === true}
              onChange={(event) => setValues({ ...values, [parameter.Name]: event.target.checked })}
            />
          ) : (
            <input
              type={parameter.Type === 'number' ? 'number' : 'text'}
              step="any"
              name={parameter.Name}
              value={String(values[parameter.Name] ?? '')}
              onChange={(event) => setValues({ ...values, [parameter.Name]: event.target.value })}
            />
          )}
          {errors[parameter.Name] && <span className="field-error">{errors[parameter.Name]}</span>}
        </label>
      ))}
      <button type="submit" className="primary" data-testid="submit-button" disabled={run.isPending}>
        {run.isPending ? 'Submitting…' : 'Submit run'}
      </button>
      {run.isError && <ErrorBox error={run.error} />}
    </form>
  );
}

export function EndpointsPage() {
  const endpoints = useQuery({ queryKey: ['published', 'endpoints'], queryFn: api.endpoints });
  const pipelines = useQuery({ queryKey: ['published', 'pipelines'], queryFn: api.pipelines });
  return (
    <div>
      <h1>Pipeline endpoints</h1>
      <Loaded query={endpoints}>
        {(rows) =>
          rows.length === 0 ? (
            <div className="muted">No pipeline endpoints.</div>
          ) : (
            <>
              {rows.map((endpoint) => (
                <EndpointCard key={endpoint.Name} endpoint={endpoint} pipelines={pipelines.data ?? []} />
              ))}
            </>
          )
        }
      </Loaded>
    </div>
  );
}

function EndpointCard({
  endpoint,
  pipelines,
}: {
  endpoint: EndpointEntity;
  pipelines: PublishedPipelineEntity[];
}) {
  const canSubmit = useCanSubmit();
  const [version, setVersion] = useState(endpoint.DefaultVersion);
  const chosen = endpoint.Versions.find((entry) => entry.Version === version);
  const pipeline = pipelines.find((entry) => entry.Id === chosen?.PipelineId);
  const active = endpoint.Status === 'Active';
  return (
    <Section
      title={endpoint.Name}
      actions={
        <div className="actions">
          <Status status={endpoint.Status} />
          {canSubmit && (
            <EnableButton
              active={active}
              onChange={(enabled) => api.setEndpointEnabled(endpoint.Name, enabled)}
            />
          )}
        </div>
      }
    >
      {endpoint.Description && <p>{endpoint.Description}</p>}
      <RestUrl url={endpoint.Url} />
      <table className="grid-table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Pipeline</th>
            <th>Runs</th>
          </tr>
        </thead>
        <tbody>
          {endpoint.Versions.map((entry) => {
            const published = pipelines.find((candidate) => candidate.Id === entry.PipelineId);
            return (
              <tr key={entry.Version}>
                <td>
                  {entry.Version}
                  {entry.IsDefault && <span className="badge">default</span>}
                </td>
                <td>
                  {published ? `${published.Name}${published.Version ? ` v${published.Version}` : ''} ` : ''}
                  <span className="mono muted">{entry.PipelineId}</span>
                </td>
                <td>
                  <ProducedRuns pipelineId={entry.PipelineId} label="show" />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {canSubmit && active && pipeline && (
        <>
          <label className="inline">
            Submit version{' '}
            <select value={version} onChange={(event) => setVersion(event.target.value)}>
              {endpoint.Versions.map((entry) => (
                <option key={entry.Version} value={entry.Version}>
                  {entry.Version}
                  {entry.IsDefault ? ' (default)' : ''}
                </option>
              ))}
            </select>
          </label>
          <SubmitForm
            key={version}
            name={endpoint.Name}
            parameters={pipeline.Parameters}
            submit={(submission) =>
              api.submitEndpoint(
                endpoint.Name,
                version === endpoint.DefaultVersion ? null : version,
                submission,
              )
            }
          />
        </>
      )}
    </Section>
  );
}
