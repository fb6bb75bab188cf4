import { LEASE_TTL_MS, type LeaseHolder, type RunStore } from './store.js';

/** A lease a step run holds in the run store; its heartbeat is refreshed until it is released. */
export class HeldLease {
  readonly key: string;
  readonly #store: RunStore;
  readonly #stepRunId: string;
  readonly #heartbeat: NodeJS.Timeout;

  constructor(store: RunStore, key: string, stepRunId: string) {
    this.#store = store;
    this.key = key;
    this.#stepRunId = stepRunId;
    this.#heartbeat = setInterval(() => {
      try {
        store.renewLease(key, stepRunId);
      } catch {
        // a busy or closing store: the next beat tries again, and the lease outlives a few missed ones
      }
    }, LEASE_TTL_MS / 6);
    this.#heartbeat.unref();
  }

  release(): void {
    clearInterval(this.#heartbeat);
    try {
      this.#store.releaseLease(this.key, this.#stepRunId);
    } catch {
      // left in the store, the lease is taken over once this process is gone
    }
  }
}

export interface Claim {
  /** Held by the claiming step run; release it when done. Absent when not acquired. */
  lease?: HeldLease;
  /** The live holder the claim waited for (or found and did not wait for). */
  holder?: LeaseHolder;
  /** A holder that was gone (its process ended) when the lease was taken from it. */
  tookOver?: LeaseHolder;
  /** `settle` returned true while waiting: the claim is no longer needed, and was not taken. */
  settled?: boolean;
}

const FIRST_POLL_MS = 50;
const LAST_POLL_MS = 1000;

/** Resolve after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Claim `key` for a step run. While a live holder has it, and `wait(holder)` says to, look again after
 * 50 ms, doubling to 1 s, until it is released or its holder is gone; `onWait` hears of each new holder,
 * and `settle` is asked before each new look whether the claim is still needed. Returns without a lease
 * when told not to wait, when settled, or when `signal` aborts.
 */
export async function claimLease(
  store: RunStore,
  key: string,
  stepRunId: string,
  options: {
    signal: AbortSignal;
    wait: (holder: LeaseHolder) => boolean;
    onWait?: (holder: LeaseHolder) => void;
    settle?: () => Promise<boolean>;
  },
): Promise<Claim> {
  let holder: LeaseHolder | undefined;
  for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, LAST_POLL_MS)) {
    if (options.signal.aborted) return holder ? { holder } : {};
    if (holder && (await options.settle?.())) return { holder, settled: true };
    const claim = store.claimLease(key, stepRunId);
    if (claim.acquired) {
      return {
        lease: new HeldLease(store, key, stepRunId),
        ...(holder ? { holder } : {}),
        ...(claim.tookOver ? { tookOver: claim.tookOver } : {}),
      };
    }
    if (!options.wait(claim.holder)) return { holder: claim.holder };
    if (claim.holder.stepRunId !== holder?.stepRunId) options.onWait?.(claim.holder);
    holder = claim.holder;
    await pause(delay, options.signal);
  }
}
