// A request's deadline: aborts when the caller aborts or when `ms` pass, whichever comes first.
//
// Not AbortSignal.any([signal, AbortSignal.timeout(ms)]): in Node 20 the composite holds the
// timeout signal weakly, and a garbage collection before it fires loses the timeout
// (nodejs/node#57736): a request told to wait 200 ms then waited for the server's answer.
export function deadline(aborted, ms) {
  const controller = new AbortController();
  const stop = () => controller.abort(aborted.reason);
  if (aborted.aborted) stop();
  else aborted.addEventListener("abort", stop, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException("the request timed out", "TimeoutError")),
    ms,
  );
  return {
    signal: controller.signal,
    /** call once the answer is in (or failed): clears the timer and the caller's listener */
    done() {
      clearTimeout(timer);
      aborted.removeEventListener("abort", stop);
    },
  };
}
