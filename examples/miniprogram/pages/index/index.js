const app = getApp();

Page({
  data: { notes: [], text: "", next: null, error: "" },

  async onLoad() {
    await this.load();
  },

  async load() {
    const db = app.minibase.database();
    try {
      // the first call logs in silently; the collection's rules decide what this user sees
      const page = await db.collection("notes").orderBy("_created", "desc").limit(20).get();
      this.setData({ notes: page.data, next: page.nextCursor, error: "" });
    } catch (error) {
      this.setData({ error: `${error.code}: ${error.message}` });
    }
  },

  onInput(event) {
    this.setData({ text: event.detail.value });
  },

  async add() {
    if (!this.data.text) return;
    try {
      await app.minibase.database().collection("notes").add({ data: { text: this.data.text } });
      this.setData({ text: "" });
      await this.load();
    } catch (error) {
      this.setData({ error: `${error.code}: ${error.message}` });
    }
  },

  buy() {
    wx.navigateTo({ url: "/pages/order/order?product=coffee" });
  },
});
