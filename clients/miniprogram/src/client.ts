/** The Caller every feature module uses: a request or an upload with the user's access token,
 * which logs in or refreshes first when needed and tries once more with a fresh token when the
 * server refuses a stale one. */
import type { Auth } from "./auth";
import type { CallOptions, Caller, Method, Upload } from "./caller";
import { type Http, unwrap } from "./http";

export class SignedInCaller implements Caller {
  constructor(
    private readonly http: Http,
    private readonly auth: Auth,
  ) {}

  async call<T = unknown>(method: Method, path: string, options: CallOptions = {}): Promise<T> {
    const { auth, ...sent } = options;
    if (auth === "none") return unwrap<T>(await this.http.send(method, path, sent));
    return unwrap<T>(await this.auth.send(method, path, sent));
  }

  async upload<T = unknown>(path: string, upload: Upload): Promise<T> {
    return unwrap<T>(await this.auth.sendWith((token) => this.http.upload(path, upload, token)));
  }
}
