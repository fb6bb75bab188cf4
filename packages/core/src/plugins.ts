import type { DeliveryMode } from './bindings.js';
import type { Environment } from './environment.js';
import type { FingerprintPartInput } from './fingerprint.js';
import type { ParameterValue } from './parameters.js';
import type { StepArgument, StepDefinition } from './step.js';

/**
 * A JSON Schema (draft-07) object. Providers use it to declare their options: plain data, so a plugin needs no
 * validation library, and the same schema can describe the options to editors.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** What every plugin declares: who it is and which cores it runs on. */
export interface PluginBase {
  /** The package (or a descriptive name) the plugin comes from. */
  readonly name: string;
  readonly version: string;
  /** The semver range of `@sluice/core` the plugin supports, e.g. `^0.1.0`. */
  readonly coreRange: string;
}

// ---------------------------------------------------------------------------------------------------------
// Compute

/** What a step asks of a cluster scheduler; local compute ignores it. */
export interface ComputeResources {
  /** CPUs for the step's process. */
  cpus?: number;
  /** Memory, e.g. `'500M'` or `'4G'`. */
  memory?: string;
  gpus?: number;
  /** A time limit: minutes, or a Slurm time such as `'30:00'`, `'02:00:00'`, `'1-00:00:00'`. */
  time?: number | string;
  /** Node features the scheduler must match, e.g. `'avx2&bigmem'`. */
  constraint?: string;
}

/** A process to run on a compute target. */
export interface ProcessJob {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** Kill the process after this many milliseconds. */
  timeoutMs?: number;
  /** What the step asks of a cluster scheduler (its run configuration's `resources`; set by the runtime). */
  resources?: Readonly<ComputeResources>;
  /**
   * The run and step the process belongs to (set by the runtime), for targets that name their jobs or find
   * them again after the runner restarts.
   */
  step?: { readonly runId: string; readonly stepName: string; readonly stepRunId: string };
}

/**
 * A job a scheduler accepted: its id, and what the target needs to follow it again from another runner
 * process (plain strings, stored with the step run; no secrets).
 */
export interface SubmittedJob {
  readonly id: string;
  readonly handle?: Readonly<Record<string, string>>;
}

/** What a target can tell of a job an earlier runner submitted (see `ComputeTarget.findJob`). */
export type SubmittedJobState =
  | { readonly state: 'active' | 'succeeded'; readonly detail: string }
  | { readonly state: 'unavailable'; readonly detail: string };

export interface ProcessRunHooks {
  signal?: AbortSignal;
  /** Called when the job leaves the queue and starts. */
  onStart?(): void;
  /**
   * Called once the process exists, on targets that run it on this machine: its id and its process group
   * (the runtime records them so that a runner killed with the step still running does not leave it behind).
   */
  onSpawn?(process: { pid: number; processGroup: number }): void;
  /**
   * Called on targets that hand the process to a scheduler as a job (Slurm, …), once it is submitted, with
   * the scheduler's job id (the runtime writes it to the step's log and records it with the step run, so
   * that a later runner can re-attach to the job if this one is killed).
   */
  onSubmit?(job: SubmittedJob): void;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  canceled: boolean;
}

/** A named place steps run. Providers decide how (subprocesses, a cluster scheduler, a cloud API). */
export interface ComputeTarget {
  readonly name: string;
  readonly kind: string;
  /** Run a process; available on targets that run processes (local, cluster schedulers). */
  runProcess?(job: ProcessJob, hooks?: ProcessRunHooks): Promise<ProcessResult>;
  /**
   * On targets whose jobs outlive the runner (a cluster scheduler): what became of a job an earlier runner
   * submitted — still queued or running (`active`), finished with exit code 0 and its output still
   * readable (`succeeded`), or anything else (`unavailable`: failed, canceled, forgotten, its files gone).
   */
  findJob?(job: SubmittedJob): Promise<SubmittedJobState>;
  /**
   * Follow a job `findJob` found, instead of submitting `process` again: its logs from the start, then its
   * result, as `runProcess` would give it. `process` is the step's job as it would be submitted now.
   */
  attachProcess?(job: SubmittedJob, process: ProcessJob, hooks?: ProcessRunHooks): Promise<ProcessResult>;
  /** Facts worth showing about the target (no secrets). */
  describe(): Record<string, unknown>;
  close?(): Promise<void>;
}

/** A compute configuration as stored in a workspace: which provider, with which options. */
export interface ComputeConfiguration<Options = object> {
  readonly provider: string;
  readonly options: Options;
}

export interface ComputeProviderPlugin<Options = Record<string, unknown>> extends PluginBase {
  readonly type: 'compute';
  readonly kind: string;
  /**
   * The options a target of this provider takes. When given, a workspace checks the options saved in its
   * config against it (once the provider is registered, and before saving new ones): a wrong value fails with
   * WORKSPACE_CONFIG_INVALID naming the key, before `createTarget` is called.
   */
  readonly optionsSchema?: JsonSchema;
  createTarget(
    name: string,
    options: Options,
    context: PluginContext,
  ): ComputeTarget | Promise<ComputeTarget>;
}

// ---------------------------------------------------------------------------------------------------------
// Datastores

/** A content identity: bytes for files, the sorted file list with hashes for folders. */
export interface ContentIdentity {
  readonly type: 'file' | 'directory';
  readonly digest: string;
  /** For folders, relative path → content hash; for a file, its own name → hash. */
  readonly files: Readonly<Record<string, string>>;
  readonly bytes: number;
}

/** How far a transfer has got. */
export interface TransferProgress {
  readonly files: number;
  readonly totalFiles: number;
  readonly bytes: number;
  readonly totalBytes: number;
  /** The file just finished. */
  readonly path?: string;
}

export interface TransferOptions {
  /** How many files move at once (default chosen by the store). */
  concurrency?: number;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
}

export interface UploadOptions extends TransferOptions {
  /** Replace what is already at the target path; refused with DATASTORE_FILE_EXISTS when false (default). */
  overwrite?: boolean;
}

/** One file on a datastore. */
export interface DatastoreEntry {
  /** Relative to the datastore root, '/'-separated. */
  readonly path: string;
  readonly size: number;
  /** The store's content hash of the file when it keeps one (e.g. `md5:…` for blobs). */
  readonly contentHash?: string;
  readonly etag?: string;
  readonly lastModified?: string;
}

/**
 * A named store of files. Paths are relative, '/'-separated and never escape the store (DATASTORE_PATH_ESCAPE).
 * Optional capabilities: `copy` (server-side copy) and `localPath` (the store is a local folder).
 */
export interface Datastore {
  readonly name: string;
  readonly kind: string;
  /** Is there a file or a folder (a non-empty prefix) at `path`? */
  exists(path: string): Promise<boolean>;
  /** Every file at or below `path` (a file path lists that file), sorted by path. */
  list(path: string): Promise<DatastoreEntry[]>;
  /** The content identity of a file or folder; DATASTORE_PATH_NOT_FOUND when there is nothing. */
  contentIdentity(path: string): Promise<ContentIdentity>;
  /** Read one file. */
  read(path: string): Promise<NodeJS.ReadableStream>;
  /** Write one file, all or nothing. */
  write(
    path: string,
    data: Uint8Array | NodeJS.ReadableStream,
    options?: { overwrite?: boolean },
  ): Promise<void>;
  /** Copy a local file or folder to `path`; readers never see part of it. */
  upload(localPath: string, path: string, options?: UploadOptions): Promise<void>;
  /** Copy `path` (file or folder) to a local path. */
  download(path: string, localPath: string, options?: TransferOptions): Promise<void>;
  /** Remove a file or everything below a folder path. */
  delete(path: string): Promise<void>;
  /** Copy within the store without moving bytes through this process, where the service can. */
  copy?(from: string, to: string, options?: { overwrite?: boolean }): Promise<void>;
  /** A local filesystem path for `path`, when the store is a local folder (lets inputs be used in place). */
  localPath?(path: string): string;
  /**
   * The URI schemes `uri` gives addresses in, its default first (e.g. `['https', 'wasbs', 'wasb']`). A store
   * without it gives addresses in its default scheme only.
   */
  readonly uriSchemes?: readonly string[];
  /**
   * An address other services can reach `path` at (`file://…`, `https://account.blob.core.windows.net/…`):
   * in `scheme` when given (one of `uriSchemes`; another fails with OPTION_INVALID), else in the default.
   */
  uri?(path: string, scheme?: string): string;
  /** Facts worth showing about the store; never credentials. */
  describe(): Record<string, unknown>;
}

/** What a provider (compute or datastore) gets besides its options. */
export interface PluginContext {
  readonly workspaceDir: string;
  /** Look up a secret stored with the workspace (never written to the run store or logs). */
  secret(name: string): string | undefined;
}

/** What a datastore provider gets besides its options. */
export type DatastoreContext = PluginContext;

export interface DatastoreProviderPlugin<Options = Record<string, unknown>> extends PluginBase {
  readonly type: 'datastore';
  readonly kind: string;
  /** The options a datastore of this provider takes, checked like a compute provider's `optionsSchema`. */
  readonly optionsSchema?: JsonSchema;
  createDatastore(name: string, options: Options, context: DatastoreContext): Datastore;
}

// ---------------------------------------------------------------------------------------------------------
// Steps

export interface ResolvedInput {
  readonly name: string;
  /** A local path (file or folder) holding the input. */
  readonly path: string;
  readonly mode: DeliveryMode;
  readonly type: 'file' | 'directory';
}

/** Where a piece of data lives on a datastore, for steps that read and write it there themselves. */
export interface DataLocation {
  readonly datastore: string;
  readonly path: string;
  /** The datastore's address for the path, when it has one. */
  readonly uri?: string;
  /** For inputs: whether the data is one file or a folder. */
  readonly type?: 'file' | 'directory';
}

export interface StepLogs {
  stdout(chunk: string | Buffer): void;
  stderr(chunk: string | Buffer): void;
  /** A line from Sluice itself about the step (shown with the step's logs). */
  info(message: string): void;
}

/** Everything a step kind needs to execute one step run. */
export interface StepExecutionContext<Config = unknown> {
  readonly step: StepDefinition<Config>;
  readonly runId: string;
  readonly stepRunId: string;
  readonly experimentName: string;
  readonly workspaceName: string;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  readonly inputs: Readonly<Record<string, ResolvedInput>>;
  /** Output name → an empty local folder to write into; committed only if the step finishes. */
  readonly outputs: Readonly<Record<string, string>>;
  /** The snapshot of the source directory the step runs from. */
  readonly sourceDirectory: string | undefined;
  /** A scratch folder for this step run. */
  readonly workDir: string;
  /** A JSON file describing the run for the code being run (inputs, outputs, parameters, metrics file). */
  readonly contextFile: string;
  readonly environment: Environment | undefined;
  /**
   * For step kinds with `pythonEnvironment`: the materialised environment's interpreter (a built virtual
   * environment's, or the inherited one as given) and its resolved lock.
   */
  readonly python?: MaterialisedPython;
  /**
   * The variables for a process the step starts: the runner's own, without its `SLUICE_SECRET_*` ones, then
   * the environment's `environmentVariables` and its `secretEnvironmentVariables` with the secrets' values.
   * Step kinds add their own (e.g. `SLUICE_CONTEXT`) and pass it as `ProcessJob.env`.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly compute: ComputeTarget;
  readonly signal: AbortSignal;
  readonly logs: StepLogs;
  /**
   * For step kinds with `remoteData`: where each input is and where each output must be written (outputs
   * are final locations; the runtime records them only once the step has finished).
   */
  readonly locations: {
    readonly inputs: Readonly<Record<string, DataLocation>>;
    readonly outputs: Readonly<Record<string, DataLocation>>;
  };
  /** A datastore of the workspace, by name (for steps that move data themselves). */
  datastore(name: string): Datastore;
  /**
   * Turn an argument into the string the command line gets: values for parameters; local paths for data,
   * or, for step kinds with `remoteData`, the data's URI (else `datastore:path`).
   */
  resolveArgument(argument: StepArgument): string;
  /** Record a metric for the step run. */
  logMetric(name: string, value: unknown): void;
}

/** A step's Python environment as materialised by the runtime. */
export interface MaterialisedPython {
  /** The interpreter to start. */
  readonly interpreter: string;
  /** Its version, e.g. `3.11.2`. */
  readonly version: string;
  /** The installed distributions, `name==version`, sorted (pip freeze). */
  readonly packages: readonly string[];
}

export interface StepExecutionResult {
  status: 'Finished' | 'Failed' | 'Canceled';
  exitCode?: number | null;
  /** Why it failed, in words. */
  error?: string;
}

/** What a step kind's `validate` is given besides the step. */
export interface StepValidationContext {
  /** The folder to look for the step's files in: the user's source directory, or its snapshot. */
  readonly sourceDirectory: string | undefined;
  /** The compute target the step will run on (given at submit). */
  readonly compute?: ComputeTarget;
}

export interface StepKindPlugin<Config = unknown> extends PluginBase {
  readonly type: 'step';
  readonly kind: string;
  /** Change it when the plugin's behaviour changes results: earlier runs then stop being reused. */
  readonly reuseVersion: string;
  /**
   * The step runs somewhere that reaches the data itself (a cloud service, a copy between stores): inputs
   * are not downloaded, outputs are not staged locally; the step gets `locations` and writes its outputs
   * there. Default false.
   */
  readonly remoteData?: boolean;
  /**
   * For `remoteData` steps: the URI schemes the engine running the step opens, most wanted first (e.g.
   * `['abfss', 'wasbs']` for Spark). Each data location's `uri`, and each data argument, is given in the
   * first of them the datastore offers (`Datastore.uriSchemes`), else in the datastore's default.
   */
  readonly uriSchemes?: readonly string[];
  /** The compute target kinds the step runs on (e.g. `['databricks']`); checked at submit. Default: any. */
  readonly computeKinds?: readonly string[];
  /**
   * The step runs Python in its environment: the runtime materialises the environment (builds it once,
   * or probes an inherited interpreter) before the step's fingerprint, which then holds the environment's
   * resolved lock, and gives the step `context.python`. Default false.
   */
  readonly pythonEnvironment?: boolean;
  /** Kind-specific fingerprint parts (script, arguments, …); shared parts are added by the runtime. */
  fingerprint(step: StepDefinition<Config>): FingerprintPartInput[];
  /**
   * The arguments the step passes to a process, as given (literals, parameters, data), for kinds that start
   * one. Checked at submit with the run's parameter values: a NUL byte, an argument over Linux's
   * MAX_ARG_STRLEN (128 KiB) or a command line over 1 MiB fails with ARGUMENT_INVALID before any step runs.
   */
  commandLine?(step: StepDefinition<Config>): readonly StepArgument[];
  /**
   * Checks of the step that need no run (e.g. the script exists): made at submit against the user's source
   * directory and the step's compute target, before anything is recorded, and again against the snapshot
   * before the step runs. Throw a SluiceError; name `step.sourceDirectory` (the user's folder) in messages.
   */
  validate?(step: StepDefinition<Config>, context: StepValidationContext): void;
  execute(context: StepExecutionContext<Config>): Promise<StepExecutionResult>;
}

export type SluicePlugin =
  StepKindPlugin<never> | ComputeProviderPlugin<never> | DatastoreProviderPlugin<never>;

/** Used by plugin authors who have a typed plugin; keeps registration and typing simple. */
export type AnyPlugin =
  | StepKindPlugin<any> // eslint-disable-line @typescript-eslint/no-explicit-any
  | ComputeProviderPlugin<any> // eslint-disable-line @typescript-eslint/no-explicit-any
  | DatastoreProviderPlugin<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
