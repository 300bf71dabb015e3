const minibase = require("./minibase.js");
const config = require("./config.js");

App({
  onLaunch() {
    // wx, my, tt, swan or qq is detected; the appid is read from the runtime
    this.minibase = minibase.init({ url: config.url });
    this.minibase.auth.onChange((user) => {
      this.user = user;
    });
  },
});
