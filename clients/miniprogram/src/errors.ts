/** Every failure the SDK reports: the server's refusals with its code, message, request id and
 * details; network failures and timeouts (status 0) told apart from them; and mistakes caught
 * before any request is sent. */
export class MinibaseError extends Error {
  /** the server's stable code ("records.not_found"), or the SDK's: "network.failed",
   * "network.timeout", "client.invalid_argument", "client.unsupported", "pay.cancelled" ... */
  readonly code: string;
  /** the HTTP status; 0 when no answer came (network) or none was asked (client) */
  readonly status: number;
  /** the server's request id, to quote when asking about a failure */
  readonly requestId: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; requestId?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = "MinibaseError";
    this.code = code;
    this.status = options.status ?? 0;
    this.requestId = options.requestId;
    this.details = options.details;
  }

  /** no answer came from the server (offline, DNS, TLS, timeout): safe to retry a read */
  get isNetwork(): boolean {
    return this.code === "network.failed" || this.code === "network.timeout";
  }
}

/** A mistake in how the SDK was called: thrown before any request is sent. */
export function invalidArgument(message: string): MinibaseError {
  return new MinibaseError("client.invalid_argument", message);
}

export function unsupported(message: string): MinibaseError {
  return new MinibaseError("client.unsupported", message);
}
