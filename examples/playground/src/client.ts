// The page's side of the worker protocol (protocol.ts): one promise per request, its events to a callback. A worker
// that dies (out of memory, a crash in wasm) rejects every pending request with the reason, and the next request
// starts a fresh worker: the page never waits on a dead one.
import type { Reply, Request, Results, WorkerEvent } from './protocol.js';

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  onEvent(event: WorkerEvent): void;
}

export class WorkerClient {
  private worker: Worker | null = null;
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  /** `onRestart` runs when a dead worker was replaced (the page then re-initialises it). */
  constructor(private readonly onCrash: (reason: string) => void) {}

  call<T extends Request['type']>(
    request: Extract<Request, { type: T }>,
    onEvent: (event: WorkerEvent) => void = () => {},
  ): Promise<Results[T]> {
    const worker = this.ensure();
    const id = this.next++;
    return new Promise<Results[T]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onEvent });
      worker.postMessage({ id, request });
    });
  }

  /** Whether a worker is running (false after a crash, until the next call starts one). */
  get alive(): boolean {
    return this.worker !== null;
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (m: MessageEvent<Reply>) => {
      const reply = m.data;
      const p = this.pending.get(reply.id);
      if (!p) return;
      if (reply.kind === 'event') return p.onEvent(reply.event);
      this.pending.delete(reply.id);
      if (reply.kind === 'result') p.resolve(reply.result);
      else p.reject(new Error(reply.message));
    };
    const fail = (reason: string) => {
      worker.terminate();
      this.worker = null;
      for (const p of this.pending.values()) p.reject(new Error(reason));
      this.pending.clear();
      this.onCrash(reason);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      fail(
        `the model worker crashed: ${e.message || 'unknown error'} (the page starts a new one on the next action)`,
      );
    };
    worker.onmessageerror = () => fail('the model worker sent a message the page cannot read');
    this.worker = worker;
    return worker;
  }
}
