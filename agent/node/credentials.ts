// Node credentials expire (a day by default): the agent renews them at two thirds of their
// lifetime, retrying every 30 s until they expire, and hands the new token to the API client
// and the tunnel (whose next dial uses it). Renewal is whatever the caller passes: over HTTP
// with the current credential and the node password (`skiff agent`), or in process (the agent
// embedded in `skiff server`).
//
//   const keeper = new CredentialKeeper({ token, expires, renew, onToken: (t) => client.setToken(t), log });
//   keeper.start(); … keeper.stop();

export interface Credential {
  token: string;
  /** Unix seconds. */
  expires: number;
}

export interface CredentialKeeperOptions extends Credential {
  renew: () => Promise<Credential>;
  onToken: (token: string) => void;
  log?: (m: string) => void;
  /** Retry interval after a failed renewal (default 30 s). */
  retryMs?: number;
}

export class CredentialKeeper {
  private cur: Credential;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private lifetime: number;

  constructor(private readonly o: CredentialKeeperOptions) {
    this.cur = { token: o.token, expires: o.expires };
    this.lifetime = Math.max(1, o.expires - nowS());
  }

  get token(): string {
    return this.cur.token;
  }

  get expires(): number {
    return this.cur.expires;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Renew at two thirds of the lifetime (at once if less than a third is left). */
  private schedule(delayMs?: number): void {
    if (this.stopped) return;
    const at = this.cur.expires - this.lifetime / 3;
    const ms = delayMs ?? Math.max(0, (at - nowS()) * 1000);
    // setTimeout overflows past 24.8 days; wake up early and look again.
    this.timer = setTimeout(() => void this.renewNow(), Math.min(ms, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  private async renewNow(): Promise<void> {
    if (this.stopped) return;
    const at = this.cur.expires - this.lifetime / 3;
    if (nowS() < at - 1) return this.schedule();
    try {
      const next = await this.o.renew();
      if (this.stopped) return;
      this.lifetime = Math.max(1, next.expires - nowS());
      this.cur = next;
      this.o.onToken(next.token);
      this.schedule();
    } catch (e) {
      const left = Math.round(this.cur.expires - nowS());
      this.o.log?.(`node credentials: renewal failed (${(e as Error).message}); ${left > 0 ? `${left} s left, retrying` : "expired, retrying"}`);
      this.schedule(this.o.retryMs ?? 30_000);
    }
  }
}

function nowS(): number {
  return Date.now() / 1000;
}
