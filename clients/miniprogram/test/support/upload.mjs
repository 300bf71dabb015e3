// Each platform's `uploadFile`, doing a real multipart/form-data POST with fetch, of a file the
// phone holds (phone.files, temporary path -> bytes), in the platform's own shapes:
//
//   wx, qq, tt, swan: options.name (the file's part), filePath, formData, header; success
//                     { data, statusCode } for any HTTP status, data the body as TEXT
//   my (Alipay):      options.fileName (the part; newer documentation calls it name, which
//                     this fake ignores, so that the SDK is seen to send fileName), fileType:
//                     image, video or audio (required); header; success { data, statusCode,
//                     header }, data TEXT
//
// The part's filename is the path's last segment (tmp_1a2b.jpg, apml3c4d.image). The call
// returns an UploadTask at once: onProgressUpdate listeners hear how many bytes went (WeChat
// and the like: totalBytesSent / totalBytesExpectedToSend; Alipay: totalBytesWritten /
// totalBytesExpectedToWrite), abort() fails the upload. phone.failNextRequests() applies to
// uploads as to requests, and each upload is listed in phone.requests with `upload`:
// { part, filename, fileType, formData, size }.

import { deadline } from "./deadline.mjs";

const CHUNK = 64 * 1024;

/** A 1x1 PNG, to put on a phone: `phone.tempFile(PNG, "png")`. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

// WeChat's shapes, which Douyin (and Baidu's progress) copy
const wechatAnswer = (status, text) => ({
  ok: true,
  res: { data: text, statusCode: status, errMsg: "uploadFile:ok" },
});
const wechatProgress = (sent, total) => ({
  progress: percent(sent, total),
  totalBytesSent: sent,
  totalBytesExpectedToSend: total,
});

const SPECS = {
  wechat: {
    partKey: "name",
    answer: wechatAnswer,
    progress: wechatProgress,
    failure: {
      timeout: () => ({ errMsg: "uploadFile:fail timeout", errno: 5 }),
      offline: () => ({ errMsg: "uploadFile:fail net::ERR_INTERNET_DISCONNECTED", errno: 600001 }),
      abort: () => ({ errMsg: "uploadFile:fail abort" }),
      missing: (path) => ({ errMsg: `uploadFile:fail file not found: ${path}`, errno: 1300002 }),
      invalid: (why) => ({ errMsg: `uploadFile:fail parameter error: ${why}` }),
    },
  },
  douyin: {
    partKey: "name",
    answer: wechatAnswer,
    progress: wechatProgress,
    failure: {
      timeout: () => ({ errMsg: "uploadFile:fail timeout" }),
      offline: () => ({ errMsg: "uploadFile:fail network error" }),
      abort: () => ({ errMsg: "uploadFile:fail abort" }),
      missing: (path) => ({ errMsg: `uploadFile:fail file not exist: ${path}` }),
      invalid: (why) => ({ errMsg: `uploadFile:fail invalid params: ${why}` }),
    },
  },
  baidu: {
    partKey: "name",
    answer: (status, text) => ({ ok: true, res: { data: text, statusCode: status } }),
    progress: wechatProgress,
    failure: {
      timeout: () => ({ errCode: 1001, errMsg: "uploadFile:fail timeout" }),
      offline: () => ({ errCode: 1001, errMsg: "uploadFile:fail network error" }),
      abort: () => ({ errCode: 1001, errMsg: "uploadFile:fail abort" }),
      missing: (path) => ({ errCode: 1001, errMsg: `uploadFile:fail file not found: ${path}` }),
      invalid: (why) => ({ errCode: 201, errMsg: `uploadFile:fail ${why}` }),
    },
  },
  alipay: {
    partKey: "fileName",
    fileTypes: ["image", "video", "audio"],
    answer: (status, text, headers) => ({
      ok: true,
      res: { data: text, statusCode: status, header: headers },
    }),
    progress: (sent, total) => ({
      progress: percent(sent, total),
      totalBytesWritten: sent,
      totalBytesExpectedToWrite: total,
    }),
    failure: {
      // 11 the file does not exist, 12 the upload failed, 2 a bad parameter
      timeout: () => ({ error: 12, errorMessage: "上传文件失败: timeout" }),
      offline: () => ({ error: 12, errorMessage: "上传文件失败" }),
      abort: () => ({ error: 9, errorMessage: "uploadFile:fail abort" }),
      missing: () => ({ error: 11, errorMessage: "文件不存在" }),
      invalid: (why) => ({ error: 2, errorMessage: `参数错误: ${why}` }),
    },
  },
};
SPECS.qq = SPECS.wechat;

/** Where each platform's runtime keeps the temporary files it hands out (chooseImage ...). */
const TEMP_PATHS = {
  wechat: (id, extension) => `wxfile://tmp_${id}.${extension}`,
  qq: (id, extension) => `qqfile://tmp_${id}.${extension}`,
  douyin: (id, extension) => `ttfile://temp/${id}.${extension}`,
  baidu: (id, extension) => `bdfile://tmp_${id}.${extension}`,
  // Alipay names the kind, not the format: apml<id>.image
  alipay: (id, extension) => `https://resource/apml${id}.${alipayKind(extension)}`,
};

/** A temporary path in the platform's own form for a file of this extension. */
export function tempPath(platform, extension) {
  const id = Math.random().toString(16).slice(2, 14);
  return TEMP_PATHS[platform](id, extension);
}

/** The runtime's uploadFile(options): calls back later, returns an UploadTask at once. */
export function uploadApi(phone) {
  const spec = SPECS[phone.platform];
  return function uploadFile(options = {}) {
    const aborter = new AbortController();
    const listeners = new Set();
    const heard = (event) => listeners.forEach((listener) => listener(event));
    phone.respond(options, () => send(phone, spec, options, aborter.signal, heard));
    return {
      abort: () => aborter.abort(),
      onProgressUpdate: (listener) => void listeners.add(listener),
      offProgressUpdate: (listener) => void listeners.delete(listener),
      onHeadersReceived() {},
      offHeadersReceived() {},
    };
  };
}

async function send(phone, spec, options, aborted, heard) {
  await null; // the task is returned (and listened to) before anything is sent
  const invalid = (why) => ({ ok: false, res: spec.failure.invalid(why) });
  if (typeof options.url !== "string" || !/^https?:\/\//.test(options.url)) {
    return invalid(`url should be an http(s) URL: ${options.url}`);
  }
  const part = options[spec.partKey];
  if (typeof part !== "string" || !part) return invalid(`${spec.partKey} is required`);
  if (spec.fileTypes && !spec.fileTypes.includes(options.fileType)) {
    return invalid(`fileType should be one of ${spec.fileTypes.join(", ")}`);
  }
  const bytes = phone.files.get(options.filePath);
  if (!bytes) return { ok: false, res: spec.failure.missing(options.filePath) };

  const filename = String(options.filePath).split("/").pop();
  const form = new FormData();
  const formData = {};
  for (const [name, value] of Object.entries(options.formData ?? {})) {
    formData[name] = String(value);
    form.append(name, String(value));
  }
  form.append(part, new Blob([bytes], { type: contentType(filename) }), filename);
  const encoded = new Response(form);
  const body = new Uint8Array(await encoded.arrayBuffer());
  const headers = { "content-type": encoded.headers.get("content-type") };
  for (const [name, value] of Object.entries(options.header ?? {})) {
    if (!/^content-type$/i.test(name)) headers[name] = String(value); // the runtime sets it
  }
  const url = options.url;
  const path = new URL(url).pathname;
  const upload = { part, filename, fileType: options.fileType, formData, size: bytes.length };
  phone.requests.push({ method: "POST", url, path, headers, body: undefined, upload });

  const failure = phone.takeFailure(path);
  if (failure && !failure.reachServer) return { ok: false, res: spec.failure[failure.kind]() };
  const { signal, done } = deadline(aborted, options.timeout ?? 60_000);
  let response;
  let text;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-length": String(body.length) },
      body: streamed(body, (sent) => heard(spec.progress(sent, body.length))),
      duplex: "half",
      signal,
    });
    text = await response.text();
  } catch (error) {
    if (aborted.aborted) return { ok: false, res: spec.failure.abort() };
    const kind = error?.name === "TimeoutError" ? "timeout" : "offline";
    return { ok: false, res: spec.failure[kind]() };
  } finally {
    done();
  }
  if (failure) return { ok: false, res: spec.failure[failure.kind]() }; // the answer is lost
  return spec.answer(response.status, text, Object.fromEntries(response.headers.entries()));
}

/** The body in chunks, telling how many bytes went as each one is taken. */
function streamed(bytes, told) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const chunk = bytes.subarray(at, at + CHUNK);
      at += chunk.length;
      controller.enqueue(chunk);
      told(at);
    },
  });
}

function percent(sent, total) {
  return total ? Math.floor((sent * 100) / total) : 100;
}

function alipayKind(extension) {
  if (/^(mp4|mov|m4v|3gp|avi|webm)$/i.test(extension)) return "video";
  if (/^(mp3|aac|m4a|wav|amr|ogg)$/i.test(extension)) return "audio";
  return "image";
}

/** The part's content type, from the filename's extension, as the runtimes send it. */
function contentType(filename) {
  const extension = filename.split(".").pop().toLowerCase();
  const known = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif" };
  return known[extension] ?? "application/octet-stream";
}
