// Telling whether a process recorded earlier is still the same process, and stopping a process group a
// killed runner left behind, without ever signalling a process that merely reuses a recorded id.
import { readFileSync, readdirSync } from 'node:fs';

const LINUX = process.platform === 'linux';

let bootId: string | undefined;
let ownIdentity: string | undefined;

/** Fields 3.. of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * What tells this process apart from any later one given the same id: the boot it runs in and its start
 * time in clock ticks since boot (Linux). Undefined when it cannot be read (the process is gone, or the
 * system has no /proc): callers then never act on the process.
 */
export function processStartIdentity(pid: number): string | undefined {
  if (!LINUX || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (pid === process.pid && ownIdentity) return ownIdentity;
  const fields = statFields(pid);
  // field 22 (starttime) is the 20th after the command name
  const started = fields?.[19];
  if (!started) return undefined;
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
  const identity = `${bootId}:${started}`;
  if (pid === process.pid) ownIdentity = identity;
  return identity;
}

/** Is a process with this id running? A zombie (ended, not yet reaped) is not. */
export function isProcessAlive(pid: number | null | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!LINUX) return true;
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * Is the process recorded as `pid` with start identity `identity` still running? 'gone' when no such
 * process runs or the id now belongs to another process (its start differs); 'unverified' when it runs
 * but its start cannot be compared (no identity recorded, or none readable on this system).
 */
export function recordedProcessState(
  pid: number | null | undefined,
  identity: string | null | undefined,
): 'running' | 'gone' | 'unverified' {
  if (!isProcessAlive(pid)) return 'gone';
  const current = processStartIdentity(pid!);
  if (!identity || !current) return 'unverified';
  return current === identity ? 'running' : 'gone';
}

/** The live (not zombie) processes of a process group, with their start identities (Linux only). */
function groupMembers(pgid: number): Array<{ pid: number; identity: string | undefined }> {
  const members: Array<{ pid: number; identity: string | undefined }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // field 5 (pgrp) is the 3rd after the command name
    if (fields && Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') {
      members.push({ pid: Number(entry), identity: processStartIdentity(Number(entry)) });
    }
  }
  return members;
}

/** Does any live (not zombie) process belong to the process group? */
export function isProcessGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!LINUX) return true;
  return groupMembers(pgid).length > 0;
}

/** Did the process of identity `later` start at or after the one of identity `earlier`, in the same boot? */
function startedSince(later: string | undefined, earlier: string): boolean {
  if (!later) return false;
  const [laterBoot, laterTicks] = later.split(':');
  const [earlierBoot, earlierTicks] = earlier.split(':');
  return laterBoot === earlierBoot && Number(laterTicks) >= Number(earlierTicks);
}

const pause = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

/**
 * Stop a step's process group recorded with its leader's start identity, without ever hitting a process
 * that merely reuses a recorded id:
 * - the leader still runs with that identity: SIGTERM to the group, then SIGKILL to whatever is left after
 *   `graceMs`;
 * - the id now belongs to a process with another start: the group is gone (Linux gives an id out again only
 *   once no process uses it as a process or group id, so nothing of the recorded group is left);
 * - the leader has ended but processes it started are still in its group (an id stays reserved while its
 *   group has members, so they are the step's): those started since the leader are stopped one by one.
 * Where start identities cannot be read, nothing is signalled ('unverified').
 */
export function stopProcessGroup(
  pgid: number,
  leaderIdentity: string | null,
  graceMs = 1000,
): 'stopped' | 'gone' | 'unverified' {
  const state = recordedProcessState(pgid, leaderIdentity);
  if (state === 'unverified') return state;
  if (state === 'running') {
    signalGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isProcessGroupAlive(pgid) && Date.now() < deadline) pause(20);
    if (isProcessGroupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
    return 'stopped';
  }
  if (!LINUX || !leaderIdentity || isProcessAlive(pgid)) return 'gone';
  const left = () => groupMembers(pgid).filter((member) => startedSince(member.identity, leaderIdentity));
  const members = left();
  if (members.length === 0) return 'gone';
  for (const member of members) signalProcess(member.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left().length > 0 && Date.now() < deadline) pause(20);
  for (const member of left()) signalProcess(member.pid, 'SIGKILL');
  return 'stopped';
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * The variable every step process is started with (`SLUICE_STEP_RUN_ID=<step run id>`) and the processes it
 * starts inherit: recovery finds a killed runner's step processes by it even when their group was never
 * recorded (the runner was killed between starting a process and recording it).
 */
export const STEP_RUN_VARIABLE = 'SLUICE_STEP_RUN_ID';

/**
 * Stop the processes on this machine (Linux; those whose environment this process may read) started for
 * these step runs: SIGTERM, then SIGKILL to whatever is left after `graceMs`. Returns how many there were.
 */
export function stopMarkedProcesses(stepRunIds: ReadonlySet<string>, graceMs = 1000): number {
  if (!LINUX || stepRunIds.size === 0) return 0;
  const marked = (): number[] => {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      let environ: string;
      try {
        environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      } catch {
        continue; // gone, or not ours to read
      }
      for (const variable of environ.split('\0')) {
        if (
          variable.startsWith(`${STEP_RUN_VARIABLE}=`) &&
          stepRunIds.has(variable.slice(STEP_RUN_VARIABLE.length + 1))
        ) {
          const fields = statFields(Number(entry));
          if (fields && fields[0] !== 'Z' && fields[0] !== 'X') pids.push(Number(entry));
          break;
        }
      }
    }
    return pids;
  };
  const found = marked();
  for (const pid of found) signalProcess(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (marked().length > 0 && Date.now() < deadline) pause(20);
  for (const pid of marked()) signalProcess(pid, 'SIGKILL');
  return found.length;
}
