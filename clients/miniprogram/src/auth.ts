/** The signed-in user: silent login on first use, tokens kept in the platform's storage,
 * refresh before expiry with exactly one refresh in flight however many calls wait on it, and
 * a silent login again when the refresh token is dead. */
import { MinibaseError, invalidArgument } from "./errors";
import type { Method } from "./caller";
import { type Http, type Sent, unwrap } from "./http";
import type { HttpAnswer } from "./platform/types";
import { type Platform, parsedBody } from "./platform/types";

/** A user as the server shows it (GET /api/auth/me). */
export interface User {
  id: string;
  roles: string[];
  profile: Record<string, unknown>;
  phone: string | null;
  identities?: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

interface Session {
  access_token: string;
  refresh_token: string;
  /** milliseconds since the epoch, by this device's clock */
  expires_at: number;
  user: User;
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user?: User;
}

/** Refresh this long before the server would refuse the token. */
const MARGIN_MS = 30_000;
/** Codes that say "this access token will not do; a fresh one will". */
const STALE_TOKEN = new Set(["auth.token_expired", "auth.token_revoked", "auth.invalid_token"]);
/** Codes that say "this refresh token is dead; log in again". */
const DEAD_REFRESH = new Set(["auth.invalid_refresh_token", "auth.refresh_token_reused"]);

export type ChangeListener = (user: User | null) => void;
export type TokenListener = (accessToken: string) => void;

/** What getPhoneNumber's event detail holds on each platform (or WeChat's code alone), or
 * what my.getPhoneNumber answers on Alipay: `{ response }`, the whole signed message as text. */
export type PhoneProof =
  | string
  | { code: string }
  | { encryptedData: string; iv: string }
  | { response: string; sign?: string };

export class Auth {
  private readonly key: string;
  private pending: Promise<Session> | null = null;
  private readonly listeners = new Set<ChangeListener>();
  private readonly tokenListeners = new Set<TokenListener>();

  constructor(
    private readonly http: Http,
    private readonly platform: Platform,
    private readonly appid: string,
  ) {
    this.key = `minibase:session:${appid}`;
  }

  /** The signed-in user as last seen, without a request (null before the first login). */
  get currentUser(): User | null {
    return this.session()?.user ?? null;
  }

  /** Called with the user whenever who is signed in changes (and null on sign-out). */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with each new access token (a login, a refresh): the realtime socket sends it on. */
  onToken(listener: TokenListener): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  /** Milliseconds until accessToken() refreshes the token it holds (0: it would now);
   * undefined when there is none. */
  refreshDue(): number | undefined {
    const session = this.session();
    return session ? Math.max(0, session.expires_at - MARGIN_MS - Date.now()) : undefined;
  }

  /** Log in now with the platform's login code (normally done silently on first use). */
  async signIn(): Promise<User> {
    this.platform.storage.remove(`${this.key}:signed-out`);
    return (await this.single(() => this.login())).user;
  }

  /** End the session here and on the server; no silent login until signIn(). */
  async signOut(): Promise<void> {
    const session = this.session();
    this.platform.storage.set(`${this.key}:signed-out`, true);
    this.forget();
    if (session) {
      await this.http
        .send("POST", "/api/auth/logout", { body: { refresh_token: session.refresh_token } })
        .catch(() => undefined); // the server forgets it at expiry anyway
    }
  }

  /** The user, read from the server. */
  async getUser(): Promise<User> {
    const user = await this.authorized<User>("GET", "/api/auth/me");
    this.keepUser(user);
    return user;
  }

  /** Bind the phone number the platform vouches for (getPhoneNumber's event detail, or
   * WeChat's code). A number held by another account rejects with users.phone_taken, whose
   * details.merge_token merge() takes. */
  async bindPhone(proof: PhoneProof): Promise<User> {
    const user = await this.authorized<User>("POST", "/api/auth/phone", phoneBody(proof));
    this.keepUser(user);
    return user;
  }

  /** Move this account into the one that holds the phone (the merge_token of a 409). */
  async merge(mergeToken: string): Promise<User> {
    if (!mergeToken) throw invalidArgument("merge needs the merge_token of users.phone_taken");
    const answer = await this.authorized<TokenAnswer>("POST", "/api/auth/merge", {
      merge_token: mergeToken,
    });
    return this.keep(answer).user;
  }

  /** Store the profile the platform signed or encrypted (getUserProfile / getUserInfo's
   * rawData + signature, or encryptedData + iv). */
  async updateProfile(detail: Record<string, unknown>): Promise<User> {
    const body =
      typeof detail.rawData === "string"
        ? { raw_data: detail.rawData, signature: detail.signature }
        : { encrypted_data: detail.encryptedData, iv: detail.iv };
    const user = await this.authorized<User>("POST", "/api/auth/profile", body);
    this.keepUser(user);
    return user;
  }

  /** A valid access token: logs in or refreshes first when needed (one at a time). */
  async accessToken(): Promise<string> {
    let session = this.session();
    if (!session) {
      if (this.platform.storage.get(`${this.key}:signed-out`)) {
        throw new MinibaseError("auth.required", "signed out: call auth.signIn() to sign in again");
      }
      session = await this.single(() => this.login());
    } else if (Date.now() >= session.expires_at - MARGIN_MS) {
      session = await this.single(() => this.refresh());
    }
    return session.access_token;
  }

  /** A request with the user's access token (logging in or refreshing first as needed), sent
   * once more with a fresh token when the server refuses a stale one: the answer, whatever its
   * status. */
  send(method: Method, path: string, sent: Omit<Sent, "token"> = {}): Promise<HttpAnswer> {
    return this.sendWith((token) => this.http.send(method, path, { ...sent, token }));
  }

  /** What `attempt` answers with the user's access token, attempted once more with a fresh
   * token when the server refuses a stale one (a request, an upload). */
  async sendWith(attempt: (token: string) => Promise<HttpAnswer>): Promise<HttpAnswer> {
    let token = await this.accessToken();
    let answer = await attempt(token);
    if (answer.status === 401 && this.refused(token, errorCode(answer.data))) {
      token = await this.accessToken();
      answer = await attempt(token);
    }
    return answer;
  }

  /** The server refused this token with `code`: true when a fresh one is worth a retry (the
   * next accessToken() gets it). */
  refused(token: string, code: string): boolean {
    const session = this.session();
    if (code === "auth.user_revoked") {
      if (session?.access_token === token) this.forget();
      return false;
    }
    if (!STALE_TOKEN.has(code)) return false;
    if (session?.access_token === token) this.store({ ...session, expires_at: 0 });
    return true;
  }

  private async authorized<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    return unwrap<T>(await this.send(method, path, { body }));
  }

  /** One login or refresh at a time: later callers wait on the one in flight. */
  private single(work: () => Promise<Session>): Promise<Session> {
    if (this.pending) return this.pending;
    const done = () => {
      this.pending = null;
    };
    const pending = work().then(
      (session) => {
        done();
        return session;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
    this.pending = pending;
    return pending;
  }

  /** `before`: who was signed in, so that a silent login again as the same person is no
   * change to tell. */
  private async login(before = this.session()?.user.id): Promise<Session> {
    const codes = await this.platform.login();
    const answer = await this.http.send("POST", `/api/auth/${this.platform.name}/login`, {
      body: { appid: this.appid, ...codes },
    });
    return this.keep(unwrap<TokenAnswer>(answer), undefined, before);
  }

  private async refresh(): Promise<Session> {
    const session = this.session();
    if (!session) return this.login();
    const answer = await this.http.send("POST", "/api/auth/refresh", {
      body: { refresh_token: session.refresh_token },
    });
    if (answer.status === 401 && DEAD_REFRESH.has(errorCode(answer.data))) {
      this.platform.storage.remove(this.key);
      return this.login(session.user.id); // silently, as on first use
    }
    if (answer.status === 401 && errorCode(answer.data) === "auth.user_revoked") this.forget();
    return this.keep(unwrap<TokenAnswer>(answer), session.user);
  }

  private keep(answer: TokenAnswer, user?: User, before = this.session()?.user.id): Session {
    const session: Session = {
      access_token: answer.access_token,
      refresh_token: answer.refresh_token,
      expires_at: Date.now() + answer.expires_in * 1000,
      user: answer.user ?? (user as User),
    };
    this.store(session); // the new refresh token is kept before the access token is used
    if (session.user.id !== before) this.emit(session.user);
    for (const listener of this.tokenListeners) {
      try {
        listener(session.access_token);
      } catch {
        // a listener's mistake is not the SDK's failure
      }
    }
    return session;
  }

  private keepUser(user: User): void {
    const session = this.session();
    if (!session || JSON.stringify(session.user) === JSON.stringify(user)) return;
    this.store({ ...session, user });
    this.emit(user);
  }

  private session(): Session | undefined {
    const found = this.platform.storage.get(this.key);
    return found && typeof found === "object" ? (found as Session) : undefined;
  }

  private store(session: Session): void {
    this.platform.storage.set(this.key, session);
  }

  private forget(): void {
    const had = this.session();
    this.platform.storage.remove(this.key);
    if (had) this.emit(null);
  }

  private emit(user: User | null): void {
    for (const listener of this.listeners) {
      try {
        listener(user);
      } catch {
        // a listener's mistake is not the SDK's failure
      }
    }
  }
}

export function errorCode(data: unknown): string {
  const code = data && typeof data === "object" ? (data as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}

function phoneBody(proof: PhoneProof): Record<string, unknown> {
  if (typeof proof === "string") return { code: proof };
  if ("code" in proof && typeof proof.code === "string") return { code: proof.code };
  if ("encryptedData" in proof) return { encrypted_data: proof.encryptedData, iv: proof.iv };
  if ("response" in proof) return alipayPhoneBody(proof);
  throw invalidArgument("bindPhone takes getPhoneNumber's code or its event detail");
}

/** my.getPhoneNumber answers `{ response: '{"response":"...","sign":"..."}' }`: the server
 * verifies the parts of that message, so they are sent as they are inside it. */
function alipayPhoneBody(proof: { response: string; sign?: string }): Record<string, unknown> {
  if (proof.sign === undefined) {
    const message = parsedBody(proof.response) as { response?: unknown; sign?: unknown };
    if (message && typeof message === "object" && typeof message.response === "string") {
      return { response: message.response, sign: message.sign };
    }
  }
  return { response: proof.response, sign: proof.sign };
}
