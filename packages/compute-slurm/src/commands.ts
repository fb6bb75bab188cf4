import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SluiceError } from '@sluice/core';

/** The Slurm client commands this package runs; each call is one request to the controller (or slurmdbd). */
export type SlurmCommand = 'sbatch' | 'squeue' | 'scontrol' | 'sacct' | 'scancel' | 'sinfo';

export interface SlurmCommandOptions {
  /** The cluster's `slurm.conf`, given to every command as `SLURM_CONF` (default: the runner's own). */
  slurmConf?: string | undefined;
  /** Kill a command that has not answered after this many milliseconds (default 60 s). */
  timeoutMs?: number;
}

/** What a command printed when it exited with a status other than 0. */
export class SlurmCommandFailed extends Error {
  constructor(
    readonly command: SlurmCommand,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command} failed: ${stderr.trim() || `exit code ${exitCode}`}`);
    this.name = 'SlurmCommandFailed';
  }
}

/** What the Slurm client prints when it cannot reach the controller or find its configuration. */
const UNREACHABLE =
  /unable to contact slurm controller|connection refused|could not establish a configuration source|zero bytes were transmitted|unable to establish|no route to host|connection timed out|communication connection failure|socket timed out|unable to open file .*slurm\.conf|can't open .*slurm\.conf|error: s_p_parse_file|munge/i;

/**
 * Runs Slurm's client commands for one compute target: with its `SLURM_CONF`, counting the calls (each one a
 * request the controller serves), and turning a missing command or an unreachable controller into a coded
 * error that says what to install or set.
 */
export class SlurmCommands {
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #slurmConf: string | undefined;
  /** Calls made so far, by command. */
  readonly calls: Record<SlurmCommand, number> = {
    sbatch: 0,
    squeue: 0,
    scontrol: 0,
    sacct: 0,
    scancel: 0,
    sinfo: 0,
  };

  constructor(options: SlurmCommandOptions = {}) {
    this.#slurmConf = options.slurmConf;
    this.#env = options.slurmConf ? { ...process.env, SLURM_CONF: options.slurmConf } : process.env;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Run a command; its stdout, or SlurmCommandFailed for an exit status other than 0, or a coded error. */
  run(command: SlurmCommand, args: readonly string[], input?: string): Promise<string> {
    const conf = this.#env.SLURM_CONF;
    // the commands would retry a missing file for a minute before they give up
    if (conf && !existsSync(conf)) {
      return Promise.reject(this.unreachable(command, `${conf} does not exist`, undefined));
    }
    this.calls[command] += 1;
    return new Promise<string>((resolve, reject) => {
      const child = execFile(
        command,
        [...args],
        { env: this.#env, timeout: this.#timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (!error) {
            resolve(stdout);
            return;
          }
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            reject(this.notInstalled(command, error));
            return;
          }
          if (UNREACHABLE.test(stderr)) {
            reject(this.unreachable(command, stderr, error));
            return;
          }
          if ((error as { killed?: boolean }).killed) {
            reject(this.unreachable(command, `no answer within ${this.#timeoutMs / 1000} s`, error));
            return;
          }
          reject(new SlurmCommandFailed(command, stderr, typeof code === 'number' ? code : null));
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Which `slurm.conf` the commands use, in words. */
  describeConf(): string {
    if (this.#slurmConf) return `SLURM_CONF=${this.#slurmConf} (the target's slurmConf option)`;
    if (process.env.SLURM_CONF) return `SLURM_CONF=${process.env.SLURM_CONF}`;
    return 'SLURM_CONF is not set, so the default /etc/slurm/slurm.conf';
  }

  notInstalled(command: SlurmCommand, cause: unknown): SluiceError {
    return new SluiceError(
      'COMPUTE_NOT_INSTALLED',
      `The Slurm command "${command}" was not found on PATH. Install Slurm's client commands on the machine that runs the pipeline (Debian/Ubuntu: apt-get install slurm-client munge, with the cluster's munge key and slurm.conf; the version must match the cluster's), or add the folder that holds them to PATH.`,
      { cause, details: { command } },
    );
  }

  unreachable(command: SlurmCommand, stderr: string, cause: unknown): SluiceError {
    const said = stderr.trim().split('\n').slice(-3).join(' ').trim();
    return new SluiceError(
      'COMPUTE_UNAVAILABLE',
      `The Slurm controller did not answer ${command} (${said}). Uses ${this.describeConf()}: set SLURM_CONF (or the target's slurmConf option) to the cluster's slurm.conf, check that slurmctld runs and that munged runs here with the cluster's key.`,
      { cause, details: { command, stderr: said } },
    );
  }
}
