/** A purchase from the mini program: the order is created on the server (its price set by the
 * server's @price hook), the platform's payment sheet opens (wx.requestPayment or my.tradePay),
 * and the order's state is read back once the payment is reported. */
import type { Caller } from "./caller";
import { MinibaseError, invalidArgument, unsupported } from "./errors";
import type { Platform } from "./platform/types";

export interface PayOptions {
  /** what is bought: the key of the server's @price hook */
  product: string;
  /** the same key again gives the same order, never a second one: make one per purchase */
  idempotencyKey: string;
  /** fen; leave it out when the server prices the product */
  amount?: number;
  description?: string;
  /** a WeChat Pay mchid, when the app pays through several */
  merchant?: string;
}

export interface Order {
  id: string;
  /** created, paid, closed, refunded ... */
  state: string;
  amount: number;
  product: string;
  [field: string]: unknown;
}

interface Placed {
  order: Order;
  payment: Record<string, unknown> | null;
}

/** How long to wait for the server to learn of a payment the sheet reported. */
const SETTLE_WAITS_MS = [0, 300, 600, 1000, 1500, 2000, 3000, 4000];

export async function pay(caller: Caller, platform: Platform, options: PayOptions): Promise<Order> {
  if (platform.name !== "wechat" && platform.name !== "alipay") {
    throw unsupported(`payments are taken on WeChat and Alipay, not on ${platform.name}`);
  }
  if (!options || typeof options.product !== "string" || !options.product) {
    throw invalidArgument("pay needs { product, idempotencyKey }");
  }
  if (typeof options.idempotencyKey !== "string" || !options.idempotencyKey) {
    throw invalidArgument("pay needs an idempotencyKey, one per purchase");
  }
  const placed = await caller.call<Placed>("POST", "/api/pay/orders", {
    body: {
      product: options.product,
      idempotency_key: options.idempotencyKey,
      amount: options.amount,
      description: options.description,
      merchant: options.merchant,
    },
    retry: true, // the idempotency key makes a repeat the same order
  });
  if (!placed.payment) return placed.order; // paid or closed already
  try {
    await platform.requestPayment(placed.payment);
  } catch (error) {
    if (error instanceof MinibaseError) {
      throw new MinibaseError(error.code, error.message, { details: { order: placed.order } });
    }
    throw error;
  }
  return settled(caller, placed.order.id);
}

/** The order once the server has heard of the payment (or as it is after the waits). */
async function settled(caller: Caller, id: string): Promise<Order> {
  let order: Order | undefined;
  for (const wait of SETTLE_WAITS_MS) {
    if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
    order = (await caller.call<{ order: Order }>("GET", `/api/pay/orders/${encodeURIComponent(id)}`)).order;
    if (order.state !== "created") return order;
  }
  return order as Order;
}
