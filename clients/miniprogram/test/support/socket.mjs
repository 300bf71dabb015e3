// Each platform's `connectSocket` and the SocketTask it answers, in the platform's own shapes,
// over a real WebSocket to the server (the `ws` package: it sends the upgrade's headers), or
// over an in-memory peer a test plays the server with (phone.socketPeer):
//
//   wx, qq, tt, swan: connectSocket({ url, header, success, fail }) → SocketTask;
//                     onMessage({ data }), onClose({ code, reason }) (Douyin's code is text),
//                     onError({ errMsg }), send({ data }), close({ code, reason })
//   my (Alipay):      my.connectSocket({ url, header, multiple: true }) → SocketTask (without
//                     multiple it answers none: the one global socket of my.onSocketMessage);
//                     onMessage({ data, isBuffer: false }), onClose({}) (no code: its docs
//                     name none), onError({ error, errorMessage }), send({ data })
//
// Every socket opened is in phone.sockets: { url, headers, sent (the frames the SDK sent,
// parsed), received (parsed), closed ({ code, reason } once closed), drop() (the network goes
// away: no close frame) }.
import WebSocket from "ws";

const SHAPES = {
  wechat: {
    opened: () => ({ header: {}, profile: {} }),
    closed: (code, reason) => ({ code, reason }),
    error: (message) => ({ errMsg: message }),
    message: (text) => ({ data: text }),
    connected: () => ({ errMsg: "connectSocket:ok" }),
    badUrl: (url) => ({ errMsg: `connectSocket:fail invalid url "${url}"` }),
  },
  douyin: {
    opened: () => ({ header: {}, protocolType: "ws", socketType: "tradition" }),
    // documented as a string (base library 1.81.0)
    closed: (code, reason) => ({ code: String(code), reason, errMsg: "closeSocket:ok" }),
    error: (message) => ({ errMsg: message }),
    message: (text) => ({ data: text, protocolType: "ws", socketType: "tradition" }),
    connected: () => ({ errMsg: "connectSocket:ok", socketTaskId: 1 }),
    badUrl: (url) => ({ errMsg: `connectSocket:fail invalid url ${url}` }),
  },
  baidu: {
    opened: () => ({ header: {} }),
    closed: (code, reason) => ({ code, reason }),
    error: (message) => ({ errCode: 1001, errMsg: message }),
    message: (text) => ({ data: text }),
    connected: () => ({ socketTaskId: 1 }),
    badUrl: (url) => ({ errCode: 201, errMsg: `connectSocket:fail invalid url ${url}` }),
  },
  alipay: {
    opened: () => ({}),
    closed: () => ({}),
    error: (message) => ({ error: 1, errorMessage: message }),
    message: (text) => ({ data: text, isBuffer: false }),
    connected: () => ({}),
    badUrl: () => ({ error: 5, errorMessage: "URL 必须以 ws 或者 wss 开头" }),
  },
};
SHAPES.qq = SHAPES.wechat;

/** `connectSocket` of the phone's platform. */
export function socketApi(phone) {
  const shape = SHAPES[phone.platform];
  return (options = {}) => {
    const { url, success, fail, complete } = options;
    const headers = options.header ?? {};
    if (phone.platform === "alipay" && options.multiple !== true) {
      throw new Error("(fake) my.connectSocket without multiple: true answers no SocketTask");
    }
    const listeners = { open: [], message: [], close: [], error: [] };
    const emit = (kind, res) => {
      for (const listener of listeners[kind]) listener(res);
    };
    const record = { url, headers, sent: [], received: [], closed: undefined, drop: () => {} };
    let state = "connecting";
    const later = (fn) => setImmediate(fn);
    if (typeof url !== "string" || !/^wss?:\/\//.test(url)) {
      later(() => {
        fail?.(shape.badUrl(url));
        complete?.();
      });
      return taskOf();
    }
    phone.sockets.push(record);
    later(() => {
      success?.(shape.connected());
      complete?.();
    });
    const handlers = {
      open: () => {
        state = "open";
        emit("open", shape.opened());
      },
      message: (text) => {
        try {
          record.received.push(JSON.parse(text));
        } catch {
          record.received.push(text);
        }
        emit("message", shape.message(text));
      },
      close: (code, reason) => {
        if (state === "closed") return;
        state = "closed";
        record.closed = { code, reason };
        emit("close", shape.closed(code, reason));
      },
      error: (message) => emit("error", shape.error(message)),
    };
    const transport = (phone.socketPeer ?? realTransport)(url, headers, handlers, record);
    record.drop = () => transport.drop();
    return taskOf(transport);

    function taskOf(link) {
      return {
        send({ data, success: sent, fail: failed } = {}) {
          if (state !== "open" || !link) {
            later(() => failed?.(shape.error("sendSocketMessage:fail WebSocket is not connected")));
            return;
          }
          record.sent.push(JSON.parse(data));
          link.send(data);
          later(() => sent?.({}));
        },
        close({ code = 1000, reason = "", success: done } = {}) {
          if (link && state !== "closed") link.close(code, reason);
          later(() => done?.({}));
        },
        onOpen: (listener) => void listeners.open.push(listener),
        onMessage: (listener) => void listeners.message.push(listener),
        onClose: (listener) => void listeners.close.push(listener),
        onError: (listener) => void listeners.error.push(listener),
      };
    }
  };
}

/** A real WebSocket to the server, with the upgrade's headers. */
function realTransport(url, headers, handlers) {
  const socket = new WebSocket(url, { headers });
  socket.on("open", () => handlers.open());
  socket.on("message", (data, binary) => {
    if (!binary) handlers.message(data.toString());
  });
  socket.on("error", (error) => handlers.error(error.message));
  socket.on("close", (code, reason) => handlers.close(code, reason.toString()));
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    drop: () => socket.terminate(),
  };
}
