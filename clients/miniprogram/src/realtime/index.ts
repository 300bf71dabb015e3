/** The app's one realtime socket (docs/realtime.md): opened by the first watch, shared by every
 * watcher, closed after the last one closes.
 *
 * It signs in with the user's access token (in the upgrade request's header, and as the first
 * frame), sends each new token after a refresh, and subscribes the watchers once the server
 * says who the socket belongs to. When the socket drops (the network, a server restart, the
 * server's 4008 "too slow", 4001 "token expired"), it connects again after a backoff and
 * resubscribes every watcher from the last event it received: the server sends what was
 * missed, or a new snapshot (`resync`), which the watcher gets as a new "init" snapshot.
 */
import type { Auth } from "../auth";
import { MinibaseError } from "../errors";
import type { Platform, PlatformSocket } from "../platform/types";
import type { Snapshot, WatchOptions, WatchQuery, Watcher, Watching } from "./types";
import { View } from "./view";

export type * from "./types";

const PATH = "/api/realtime";
/** Waits before each attempt to connect again, the last one repeated (a fifth either way). */
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000, 30_000];
/** A ping this often keeps proxies from closing an idle socket; two without any frame from
 * the server in between mean the connection is dead. */
const PING_MS = 25_000;
/** The server's close codes: the session ended (token expired or revoked), too slow. */
const SIGNED_OUT = 4001;
/** Codes (of an error frame without an id) that a fresh access token answers. */
const STALE_TOKEN = new Set([
  "auth.token_expired",
  "auth.token_revoked",
  "auth.invalid_token",
  "auth.user_revoked",
]);

export interface RealtimeOptions {
  url: string;
  platform: Platform;
  auth: Auth;
  /** waits between attempts to connect (tests shorten them) */
  backoff?: number[];
  ping?: number;
}

type Phase = "idle" | "waiting" | "connecting" | "authenticating" | "ready";

interface Frame {
  type?: unknown;
  id?: unknown;
  event?: unknown;
  docs?: unknown;
  change?: unknown;
  action?: unknown;
  doc?: unknown;
  code?: unknown;
  message?: unknown;
  details?: unknown;
  user?: unknown;
}

type Doc = Record<string, unknown> & { _id: string };

/** One watch: its query, its listeners, its list and the last event it received. */
class Watch {
  readonly view: View;
  /** the last event this watcher has (resubscribing asks for what came after it) */
  last: number | undefined;

  constructor(
    readonly id: string,
    readonly query: WatchQuery,
    readonly options: WatchOptions<unknown>,
  ) {
    this.view = new View(query.orders);
  }

  subscribeFrame(): Record<string, unknown> {
    const { collection, filter, sort, limit } = this.query;
    const frame: Record<string, unknown> = { type: "subscribe", id: this.id, collection };
    if (Object.keys(filter).length) frame.filter = filter;
    if (sort !== undefined) frame.sort = sort;
    if (limit !== undefined) frame.limit = limit;
    if (this.last !== undefined) frame.since = this.last;
    return frame;
  }

  snapshot(frame: Frame): void {
    const event = Number(frame.event);
    const docs = Array.isArray(frame.docs) ? (frame.docs as Doc[]) : [];
    const docChanges = this.view.reset(docs, event);
    this.last = event;
    this.tell({ id: event, docChanges, docs: this.view.list(), type: "init" });
  }

  change(frame: Frame): void {
    const event = Number(frame.event);
    const doc = frame.doc as Doc | undefined;
    if (!doc || typeof doc._id !== "string") return;
    if (this.last !== undefined && event <= this.last) return; // had it already
    const action = typeof frame.action === "string" ? frame.action : undefined;
    const docChange = this.view.apply(String(frame.change), doc, event, action);
    this.last = event;
    this.tell({ id: event, docChanges: [docChange], docs: this.view.list() });
  }

  fail(error: MinibaseError): void {
    try {
      this.options.onError(error);
    } catch {
      // a listener's mistake is not the SDK's failure
    }
  }

  private tell(snapshot: Snapshot<Doc>): void {
    try {
      this.options.onChange(snapshot as Snapshot<unknown>);
    } catch {
      // a listener's mistake is not the SDK's failure
    }
  }
}

export class Realtime implements Watching {
  private readonly url: string;
  private readonly backoff: number[];
  private readonly pingEvery: number;
  private readonly watches = new Map<string, Watch>();
  private phase: Phase = "idle";
  /** bumped whenever a socket is given up: events of an older one are ignored */
  private generation = 0;
  private socket: PlatformSocket | null = null;
  /** the token the socket signed in with, and whose socket it is */
  private token = "";
  private user: string | undefined;
  private attempts = 0;
  private counter = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private heard = false;

  constructor(private readonly options: RealtimeOptions) {
    this.url = options.url.replace(/\/+$/, "").replace(/^http/, "ws") + PATH;
    this.backoff = options.backoff ?? BACKOFF_MS;
    this.pingEvery = options.ping ?? PING_MS;
    options.auth.onToken((token) => this.tokenChanged(token));
    options.auth.onChange((user) => this.userChanged(user ? user.id : undefined));
  }

  watch<T>(query: WatchQuery, options: WatchOptions<T>): Watcher {
    const watch = new Watch(`w${++this.counter}`, query, options as WatchOptions<unknown>);
    this.watches.set(watch.id, watch);
    if (this.phase === "idle") void this.connect();
    else if (this.phase === "ready") this.send(watch.subscribeFrame());
    return { close: () => this.unwatch(watch) };
  }

  private unwatch(watch: Watch): Promise<void> {
    if (this.watches.get(watch.id) !== watch) return Promise.resolve();
    this.watches.delete(watch.id);
    if (!this.watches.size) this.stop();
    else if (this.phase === "ready") this.send({ type: "unsubscribe", id: watch.id });
    return Promise.resolve();
  }

  // -- the socket's life ----------------------------------------------------------------------

  private async connect(): Promise<void> {
    this.phase = "connecting";
    const generation = ++this.generation;
    let token: string;
    try {
      token = await this.options.auth.accessToken();
    } catch (error) {
      if (generation === this.generation) this.cannotSignIn(error);
      return;
    }
    if (generation !== this.generation) return;
    this.token = token;
    const user = this.options.auth.currentUser?.id;
    if (this.user !== undefined && user !== this.user) {
      // another user since the last socket: what the watchers hold was someone else's view
      for (const watch of this.watches.values()) watch.last = undefined;
    }
    this.user = user;
    let socket: PlatformSocket;
    try {
      socket = this.options.platform.connectSocket(
        { url: this.url, headers: { authorization: `Bearer ${token}` } },
        {
          opened: () => {
            if (generation !== this.generation) return;
            this.phase = "authenticating";
            this.send({ type: "auth", token: this.token });
          },
          message: (text) => {
            if (generation === this.generation) this.receive(text);
          },
          closed: (code) => {
            if (generation === this.generation) this.lost(code);
          },
        },
      );
    } catch (error) {
      this.failAll(asError(error));
      return;
    }
    if (generation === this.generation) this.socket = socket;
  }

  /** The socket is gone: connect again (after a backoff) while anyone watches. */
  private lost(code: number): void {
    this.drop();
    if (code === SIGNED_OUT) this.options.auth.refused(this.token, "auth.token_expired");
    this.retry();
  }

  private retry(): void {
    if (!this.watches.size) {
      this.phase = "idle";
      return;
    }
    this.phase = "waiting";
    const wait = this.backoff[Math.min(this.attempts, this.backoff.length - 1)] ?? 0;
    this.attempts += 1;
    const jittered = wait * (0.8 + Math.random() * 0.4);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, jittered);
  }

  /** Give up the socket (if any) and its timers; a later connect() starts afresh. */
  private drop(): void {
    this.generation += 1;
    const socket = this.socket;
    this.socket = null;
    cancel(this.refreshTimer, this.retryTimer);
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.refreshTimer = this.pingTimer = this.retryTimer = undefined;
    socket?.close(1000, "");
  }

  /** Nobody watches any more. */
  private stop(): void {
    this.drop();
    this.phase = "idle";
    this.attempts = 0;
  }

  /** No token could be had: a network failure is tried again, anything else ends the watches
   * (auth.required after signOut(), a disabled user ...). */
  private cannotSignIn(error: unknown): void {
    const failure = asError(error);
    if (failure.isNetwork || failure.status >= 500) this.retry();
    else this.failAll(failure);
  }

  private failAll(error: MinibaseError): void {
    const ended = [...this.watches.values()];
    this.watches.clear();
    this.stop();
    for (const watch of ended) watch.fail(error);
  }

  // -- tokens and users ----------------------------------------------------------------------

  private tokenChanged(token: string): void {
    if (this.phase !== "ready" && this.phase !== "authenticating") return;
    if (token === this.token) return;
    if (this.options.auth.currentUser?.id !== this.user) return this.restart();
    this.token = token;
    this.send({ type: "auth", token });
    this.scheduleRefresh();
  }

  /** A socket of another user is given up; one being prepared reads the user itself. */
  private userChanged(user: string | undefined): void {
    if (this.phase !== "ready" && this.phase !== "authenticating") return;
    if (user !== this.user) this.restart();
  }

  /** Another user (or none): a new socket, and a new snapshot for every watcher. */
  private restart(): void {
    for (const watch of this.watches.values()) watch.last = undefined;
    this.drop();
    this.attempts = 0;
    if (this.watches.size) void this.connect();
    else this.phase = "idle";
  }

  /** The token is refreshed before it expires even when no request asks for it. */
  private scheduleRefresh(): void {
    cancel(this.refreshTimer);
    const due = this.options.auth.refreshDue();
    if (due === undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.options.auth.accessToken().then(
        (token) => {
          if (token === this.token && this.phase === "ready") this.scheduleRefresh();
        },
        () => {
          // tried again shortly; should the token expire first, the server's 4001 reconnects
          if (this.phase === "ready") this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 5000);
        },
      );
    }, due);
  }

  private startPings(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.heard = true;
    this.pingTimer = setInterval(() => {
      if (!this.heard) return this.lost(0); // nothing since the last ping: the link is dead
      this.heard = false;
      this.send({ type: "ping" });
    }, this.pingEvery);
  }

  // -- frames --------------------------------------------------------------------------------

  private send(frame: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private receive(text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    this.heard = true;
    const watch = typeof frame.id === "string" ? this.watches.get(frame.id) : undefined;
    switch (frame.type) {
      case "authenticated":
        if (this.phase === "authenticating") this.signedIn();
        return;
      case "snapshot":
        return watch?.snapshot(frame);
      case "change":
        return watch?.change(frame);
      case "error":
        return this.refused(frame, watch);
      default:
        // resumed (the changes follow), resync (a snapshot follows), unsubscribed, pong
        return;
    }
  }

  private signedIn(): void {
    this.phase = "ready";
    this.attempts = 0;
    this.scheduleRefresh();
    this.startPings();
    for (const watch of this.watches.values()) this.send(watch.subscribeFrame());
  }

  private refused(frame: Frame, watch: Watch | undefined): void {
    const code = typeof frame.code === "string" ? frame.code : "realtime.error";
    const message = typeof frame.message === "string" ? frame.message : code;
    if (typeof frame.id === "string") {
      // a subscription refused (bad filter, unknown collection, forbidden ...): that watch ends
      if (!watch) return;
      this.watches.delete(watch.id);
      if (!this.watches.size) this.stop();
      const details =
        frame.details && typeof frame.details === "object"
          ? (frame.details as Record<string, unknown>)
          : undefined;
      watch.fail(new MinibaseError(code, message, { details }));
      return;
    }
    if (STALE_TOKEN.has(code) || code === "realtime.other_user") {
      // the session ended or the token was refused: a fresh token, on a new socket
      this.options.auth.refused(this.token, code);
      this.drop();
      this.retry();
    }
  }
}

function cancel(...timers: Array<ReturnType<typeof setTimeout> | undefined>): void {
  for (const timer of timers) if (timer !== undefined) clearTimeout(timer);
}

function asError(error: unknown): MinibaseError {
  if (error instanceof MinibaseError) return error;
  return new MinibaseError("client.failed", error instanceof Error ? error.message : String(error));
}
