import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Server-sent events for the UI: a `routes` event after every table swap or updater change, so
 * open pages refresh within a second without a reload. Bursts are coalesced (one event per 100 ms).
 */
export class EventHub {
  #clients = new Set<ServerResponse>();
  #seq = 0;
  #pending: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout;

  constructor(heartbeatMs = 15_000) {
    this.#heartbeat = setInterval(() => {
      for (const c of this.#clients) c.write(': ping\n\n');
    }, heartbeatMs);
    this.#heartbeat.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      Connection: 'keep-alive',
    });
    res.write(`retry: 1000\nevent: hello\ndata: ${this.#seq}\n\n`);
    this.#clients.add(res);
    const drop = () => this.#clients.delete(res);
    req.on('close', drop);
    res.on('error', drop);
  }

  /**
   * Announces a change; coalesced. With no page open only the sequence moves (a page that opens
   * later gets it in its hello): no timer, so a catalog churning 20 times a second does not wake
   * the primary's event loop once more per change for nobody (issue #17).
   */
  changed(): void {
    if (this.#pending) return;
    if (this.#clients.size === 0) {
      this.#seq++;
      return;
    }
    this.#pending = setTimeout(() => {
      this.#pending = undefined;
      this.#seq++;
      for (const c of this.#clients) c.write(`event: routes\ndata: ${this.#seq}\n\n`);
    }, 100);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    if (this.#pending) clearTimeout(this.#pending);
    for (const c of this.#clients) c.end();
    this.#clients.clear();
  }
}
