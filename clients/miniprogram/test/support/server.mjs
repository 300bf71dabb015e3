// A real `minibase serve --dev` for the client's tests: a fresh folder, a free port, an admin,
// one app per platform (registered in the in-process sandbox with made-up credentials), a
// WeChat Pay merchant for the WeChat app, and helpers for the admin and sandbox control APIs.
//
//   const server = await startServer();          // in before(): about 2 s
//   await server.createCollection({ name: "posts", rules: { preset: "owner_only" } });
//   const wx = fakePlatform("wechat", server, { person: "ann" });
//   await server.stop();                         // in after()
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_BIN = resolve(PACKAGE_DIR, "../../.venv/bin/minibase");
const ADMIN_EMAIL = "admin@example.com";
const ADMIN_PASSWORD = "a long password for the client tests";
const START_TIMEOUT_MS = 30_000;

/** The app each platform's fakes sign in to (Baidu's appid is its app key). */
export const APPS = Object.freeze({
  wechat: "wx0c11e1170000001",
  alipay: "2021000000000001",
  douyin: "tt0c11e1170000001",
  baidu: "bd0c11e1170000001",
  qq: "1110000001",
});
/** The WeChat Pay merchant that takes the WeChat app's payments. */
export const MCHID = "1900000109";

/** An answer of the server or the sandbox that was not 2xx: its status, code and JSON body. */
export class HttpError extends Error {
  constructor(method, url, status, body) {
    const code = body && typeof body === "object" ? body.code : undefined;
    super(`${method} ${url} answered ${status}: ${JSON.stringify(body)}`);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/**
 * Starts a server; resolves once it answers /api/health, with an admin signed in and the apps
 * and the merchant registered. When it cannot start, the error shows the server's log.
 *
 * options.settings:  { access_token_ttl: 1, ... } passed as MINIBASE_* variables (the
 *                    developer's own MINIBASE_* variables are left out);
 * options.functions: { "shop.py": "<python source>" } written to the server's ./functions;
 * options.bin:       the minibase executable (default: env MINIBASE_BIN, else the repo's
 *                    .venv/bin/minibase).
 */
export async function startServer(options = {}) {
  const bin = options.bin ?? process.env.MINIBASE_BIN ?? DEFAULT_BIN;
  if (!fs.existsSync(bin)) {
    throw new Error(
      `no minibase at ${bin}: run ./scripts/install --test at the repo root, or set MINIBASE_BIN`,
    );
  }
  const folder = fs.mkdtempSync(join(tmpdir(), "minibase-client-"));
  writeFunctions(folder, options.functions ?? {});
  const env = serverEnv(options.settings ?? {});
  const logPath = join(folder, "server.log");
  await run(bin, ["admin", "create", "--create", ADMIN_EMAIL], folder, env, logPath);

  const server = await listen(bin, folder, env, logPath);
  try {
    const login = { email: ADMIN_EMAIL, password: ADMIN_PASSWORD };
    server.adminToken = (await call("POST", `${server.url}/api/admin/login`, login)).token;
    for (const [platform, appid] of Object.entries(APPS)) await server.registerApp(platform, appid);
    await server.admin("POST", "/api/admin/pay/merchants", { mchid: MCHID, appids: [APPS.wechat] });
  } catch (error) {
    await server.stop({ keepFolder: true });
    throw withLog(error, logPath);
  }
  return server;
}

/** Serves on a free port; on another one if that port was taken meanwhile. */
async function listen(bin, folder, env, logPath) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const logged = readLog(logPath).length;
    const child = spawnServer(bin, port, folder, env, logPath);
    const server = new Server(`http://127.0.0.1:${port}`, folder, child, logPath);
    server._restart = () => spawnServer(bin, port, folder, env, logPath);
    try {
      await server.waitForHealth();
      return server;
    } catch (error) {
      await server.stop({ keepFolder: true });
      const portTaken = /address already in use/i.test(readLog(logPath).slice(logged));
      if (attempt < 3 && portTaken) continue;
      throw withLog(error, logPath);
    }
  }
}

class Server {
  constructor(url, folder, child, logPath) {
    /** the server's base URL, e.g. http://127.0.0.1:41234 */
    this.url = url;
    /** the in-process sandbox: platforms at <sandboxUrl>/<platform>, control API at /control */
    this.sandboxUrl = `${url}/_sandbox`;
    /** the folder the server runs in: minibase_data/, functions/, server.log */
    this.folder = folder;
    this.logPath = logPath;
    /** appid by platform: the apps the fakes sign in to */
    this.apps = { ...APPS };
    /** the WeChat Pay merchant of the WeChat app */
    this.merchant = { mchid: MCHID, appids: [APPS.wechat] };
    this.adminToken = undefined;
    this._child = child;
    this._exited = new Promise((done) => {
      child.once("exit", (code, signal) => done(signal ?? code));
    });
  }

  /** An admin API call with the admin's token: the JSON answer, or throws HttpError. */
  admin(method, path, body) {
    return call(method, `${this.url}${path}`, body, { Authorization: `Bearer ${this.adminToken}` });
  }

  /** A sandbox control call (docs/sandbox.md): POST with a body, GET without. */
  control(path, body) {
    return call(body === undefined ? "GET" : "POST", `${this.sandboxUrl}/control${path}`, body);
  }

  /** A user API call with a user's access token (or none): the JSON answer, or HttpError. */
  api(method, path, body, accessToken) {
    const headers = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
    return call(method, `${this.url}${path}`, body, headers);
  }

  /** Registers another app through the admin API (in --dev its credentials are made up, and
   * the sandbox learns them); apps of one open-platform `account` share unionids. */
  async registerApp(platform, appid, { account } = {}) {
    const app = account ? { platform, appid, account } : { platform, appid };
    await this.admin("POST", "/api/admin/apps", app);
    return appid;
  }

  /** Creates a collection (docs/data-api.md); answers it as the admin API does. */
  createCollection(definition) {
    return this.admin("POST", "/api/admin/collections", definition);
  }

  /** Signs a person in over plain HTTP, as a mini program would, without a fake (a second
   * user, a token to compare): the login answer with its tokens. */
  async login(platform, person) {
    const appid = this.apps[platform];
    const minted = await this.control("/login-code", { platform, appid, person });
    return this.api("POST", `/api/auth/${platform}/login`, { appid, code: minted.code });
  }

  /** The server's log so far. */
  log() {
    return readLog(this.logPath);
  }

  async waitForHealth() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exited;
    this._exited.then((how) => (exited = how));
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(`minibase serve stopped (${exited}) at start`);
      try {
        const health = await fetch(`${this.url}/api/health`, { signal: AbortSignal.timeout(1000) });
        if (health.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`minibase serve did not answer /api/health in ${START_TIMEOUT_MS / 1000} s`);
  }

  /** Stops the server and starts it again on the same port and data, as a deploy would:
   * resolves once it answers /api/health again. */
  async restart() {
    const child = this._child;
    signalGroup(child, "SIGTERM");
    const killer = setTimeout(() => signalGroup(child, "SIGKILL"), 5000);
    await this._exited;
    clearTimeout(killer);
    running.delete(child);
    this._child = this._restart();
    this._exited = new Promise((done) => {
      this._child.once("exit", (code, signal) => done(signal ?? code));
    });
    await this.waitForHealth();
  }

  /** Stops the server (and its worker processes) and removes its folder. */
  async stop({ keepFolder = false } = {}) {
    const child = this._child;
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup(child, "SIGTERM");
      const killer = setTimeout(() => signalGroup(child, "SIGKILL"), 5000);
      await this._exited;
      clearTimeout(killer);
    }
    running.delete(child);
    if (!keepFolder) fs.rmSync(this.folder, { recursive: true, force: true });
  }
}

// Servers still running when the test process exits (a test file that never reached after()).
const running = new Map(); // child process -> its folder
process.once("exit", () => {
  for (const [child, folder] of running) {
    signalGroup(child, "SIGKILL");
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

function spawnServer(bin, port, folder, env, logPath) {
  const log = fs.openSync(logPath, "a");
  // In a process group of its own, so that stop() reaches granian's worker process too; not
  // holding the test process open (the exit handler above kills it).
  const child = spawn(bin, ["serve", "--dev", "--port", String(port)], {
    cwd: folder,
    env,
    stdio: ["ignore", log, log],
    detached: true,
  });
  fs.closeSync(log);
  child.unref();
  running.set(child, folder);
  return child;
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone already
  }
}

function run(bin, args, folder, env, logPath) {
  const log = fs.openSync(logPath, "a");
  const child = spawn(bin, args, { cwd: folder, env, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  return new Promise((done, fail) => {
    child.once("error", fail);
    child.once("exit", (code) => {
      if (code === 0) done();
      else fail(withLog(new Error(`minibase ${args.join(" ")} failed (${code})`), logPath));
    });
  });
}

function serverEnv(settings) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("MINIBASE_")) env[name] = value;
  }
  env.MINIBASE_ADMIN_PASSWORD = ADMIN_PASSWORD;
  for (const [name, value] of Object.entries(settings)) {
    env[`MINIBASE_${name.toUpperCase()}`] = String(value);
  }
  return env;
}

function writeFunctions(folder, files) {
  if (Object.keys(files).length === 0) return;
  fs.mkdirSync(join(folder, "functions"));
  for (const [name, source] of Object.entries(files)) {
    fs.writeFileSync(join(folder, "functions", name), source);
  }
}

/** A port nobody listens on now (the system's pick). */
function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

function readLog(path) {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return "(no log)";
  }
}

function withLog(error, logPath) {
  return new Error(`${error.message}\n--- ${logPath} ---\n${readLog(logPath)}`, { cause: error });
}

async function call(method, url, body, headers = {}) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text as it is
  }
  if (!response.ok) throw new HttpError(method, url, response.status, parsed);
  return parsed;
}
