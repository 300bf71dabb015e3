// Where your minibase server is. In the IDE, with "do not check request domains" on, a
// `minibase serve --dev` on your machine works; in production, an https request domain.
module.exports = {
  url: "http://127.0.0.1:8080",
};
