// Each platform's `request`, doing real HTTP with fetch, in the platform's own shapes:
//
//   wx, qq, tt, swan: options.header; success { data, statusCode, header } for any HTTP status
//   my (Alipay):      options.headers; success { data, status, headers } for 2xx only, any other
//                     status calls fail with { error: 19, errorMessage, status, data, headers }
//
// Every platform: method upper case and one of the platform's (none takes PATCH); data of a GET
// becomes the query string, otherwise a JSON body (form-encoded with a form content-type);
// content-type defaults to application/json; an answer that is JSON arrives parsed (dataType
// "json", the default); network failures call fail with the platform's error shape.

import { deadline } from "./deadline.mjs";

const SPECS = {
  wechat: {
    headersKey: "header",
    methods: ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT"],
    timeout: 60_000,
    answer: (status, data, headers) => ({
      ok: true,
      res: { data, statusCode: status, header: headers, cookies: [], errMsg: "request:ok" },
    }),
    failure: {
      // errno: WeChat's common error codes (5 api timeout, 600001 network error)
      timeout: () => ({ errMsg: "request:fail timeout", errno: 5 }),
      offline: () => ({ errMsg: "request:fail net::ERR_INTERNET_DISCONNECTED", errno: 600001 }),
      abort: () => ({ errMsg: "request:fail abort" }),
      invalid: (why) => ({ errMsg: `request:fail parameter error: ${why}` }),
    },
  },
  douyin: {
    headersKey: "header",
    methods: ["GET", "POST", "OPTIONS", "PUT", "HEAD", "DELETE"],
    timeout: 60_000,
    answer: (status, data, headers) => ({
      ok: true,
      res: { data, statusCode: status, header: headers, errMsg: "request:ok" },
    }),
    failure: {
      timeout: () => ({ errMsg: "request:fail timeout" }),
      offline: () => ({ errMsg: "request:fail network error" }),
      abort: () => ({ errMsg: "request:fail abort" }),
      invalid: (why) => ({ errMsg: `request:fail invalid params: ${why}` }),
    },
  },
  baidu: {
    headersKey: "header",
    methods: ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE"],
    timeout: 60_000,
    answer: (status, data, headers) => ({
      ok: true,
      res: { data, statusCode: status, header: headers },
    }),
    failure: {
      timeout: () => ({ errCode: 1001, errMsg: "request:fail timeout" }),
      offline: () => ({ errCode: 1001, errMsg: "request:fail network error" }),
      abort: () => ({ errCode: 1001, errMsg: "request:fail abort" }),
      invalid: (why) => ({ errCode: 201, errMsg: `request:fail ${why}` }),
    },
  },
  alipay: {
    headersKey: "headers",
    methods: ["GET", "POST", "PUT", "DELETE"],
    timeout: 30_000,
    answer: (status, data, headers) =>
      status >= 200 && status < 300
        ? { ok: true, res: { data, status, headers } }
        : {
            ok: false,
            res: { error: 19, errorMessage: "http status error", status, data, headers },
          },
    failure: {
      timeout: () => ({ error: 13, errorMessage: "超时" }),
      offline: () => ({ error: 12, errorMessage: "网络出错" }),
      abort: () => ({ error: 9, errorMessage: "request:fail abort" }),
      invalid: (why) => ({ error: 2, errorMessage: `参数错误: ${why}` }),
      decode: (status, data, headers) => ({
        error: 14,
        errorMessage: "JSON parse data error",
        status,
        data,
        headers,
      }),
    },
  },
};
SPECS.qq = SPECS.wechat;

/** The runtime's request(options): calls back later, returns a RequestTask at once. */
export function requestApi(phone) {
  const spec = SPECS[phone.platform];
  return function request(options = {}) {
    const task = new AbortController();
    phone.respond(options, () => send(phone, spec, options, task.signal));
    return { abort: () => task.abort(), onHeadersReceived() {}, offHeadersReceived() {} };
  };
}

async function send(phone, spec, options, aborted) {
  const method = options.method ?? "GET";
  if (!spec.methods.includes(method)) {
    const why = `method should be one of ${spec.methods.join(", ")}, not ${method}`;
    return { ok: false, res: spec.failure.invalid(why) };
  }
  if (typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
    return { ok: false, res: spec.failure.invalid(`url should be an http(s) URL: ${options.url}`) };
  }
  const headers = {};
  for (const [name, value] of Object.entries(options[spec.headersKey] ?? {})) {
    headers[name] = String(value);
  }
  if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) {
    headers["content-type"] = "application/json";
  }
  const { url, body } = encode(method, options.url, options.data, headers);
  const path = new URL(url).pathname;
  phone.requests.push({ method, url, path, headers, body });

  const failure = phone.takeFailure(path);
  if (failure && !failure.reachServer) return { ok: false, res: spec.failure[failure.kind]() };
  const { signal, done } = deadline(aborted, options.timeout ?? spec.timeout);
  let response;
  let bytes;
  try {
    response = await fetch(url, { method, headers, body, signal });
    bytes = await response.arrayBuffer();
  } catch (error) {
    if (aborted.aborted) return { ok: false, res: spec.failure.abort() };
    const kind = error?.name === "TimeoutError" ? "timeout" : "offline";
    return { ok: false, res: spec.failure[kind]() };
  } finally {
    done();
  }
  if (failure) return { ok: false, res: spec.failure[failure.kind]() }; // the answer is lost
  return answer(phone, spec, options, response, bytes);
}

function answer(phone, spec, options, response, bytes) {
  const headers = Object.fromEntries(response.headers.entries());
  const dataType = String(options.dataType ?? "json").toLowerCase();
  if (options.responseType === "arraybuffer" || dataType === "arraybuffer") {
    return spec.answer(response.status, bytes, headers);
  }
  const text = new TextDecoder().decode(bytes);
  let data = text;
  if (dataType === "json" && text !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      // WeChat and the like hand the text over as it is; Alipay refuses it
      if (spec.failure.decode) {
        return { ok: false, res: spec.failure.decode(response.status, text, headers) };
      }
    }
    phone.learnTrade(data);
  }
  return spec.answer(response.status, data, headers);
}

/** The URL and body the runtime sends for `data`. */
function encode(method, url, data, headers) {
  if (data === undefined || data === null) return { url, body: undefined };
  if (method === "GET" || method === "HEAD") {
    const query = typeof data === "string" ? data : formEncode(data);
    if (!query) return { url, body: undefined };
    return { url: `${url}${url.includes("?") ? "&" : "?"}${query}`, body: undefined };
  }
  if (typeof data === "string" || data instanceof ArrayBuffer) return { url, body: data };
  const [, contentType] = Object.entries(headers).find(([name]) => /^content-type$/i.test(name));
  if (contentType.includes("x-www-form-urlencoded")) return { url, body: formEncode(data) };
  return { url, body: JSON.stringify(data) };
}

function formEncode(data) {
  return Object.entries(data)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join("&");
}
