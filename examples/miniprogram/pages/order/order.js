const app = getApp();

Page({
  data: { product: "", state: "", error: "" },

  onLoad(query) {
    this.setData({ product: query.product || "coffee" });
  },

  async pay() {
    try {
      // the server prices the product (its @price hook); one idempotency key per purchase
      const order = await app.minibase.pay({
        product: this.data.product,
        idempotencyKey: `${this.data.product}-${Date.now()}`,
      });
      this.setData({ state: order.state, error: "" });
    } catch (error) {
      const said = error.code === "pay.cancelled" ? "cancelled" : `${error.code}: ${error.message}`;
      this.setData({ error: said });
    }
  },
});
