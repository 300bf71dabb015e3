// A watch as a test follows it: every snapshot and error it was told, and waits for the next.
//
//   const feed = follow(db.collection("posts").orderBy("title", "asc"));
//   const first = await feed.next();                  // the init snapshot
//   const later = await feed.until((s) => s.docs.length === 3);
//   await feed.close();
import assert from "node:assert/strict";

const WAIT_MS = 10_000;
/** watches not closed yet: closeWatches() (in afterEach) ends them, so that a failed test
 * leaves no socket reconnecting behind it */
const open = new Set();

export async function closeWatches() {
  const watchers = [...open];
  open.clear();
  await Promise.all(watchers.map((watcher) => watcher.close()));
}

export function follow(query) {
  const snapshots = [];
  const errors = [];
  const waiting = new Set();
  const wake = () => {
    for (const waiter of [...waiting]) waiter();
  };
  const watcher = query.watch({
    onChange: (snapshot) => {
      snapshots.push(snapshot);
      wake();
    },
    onError: (error) => {
      errors.push(error);
      wake();
    },
  });
  open.add(watcher);
  let read = 0;

  /** The first snapshot after those already read (or seen) that `matches`. */
  function until(matches = () => true, what = "a snapshot", ms = WAIT_MS) {
    return new Promise((done, fail) => {
      const check = () => {
        while (read < snapshots.length) {
          const snapshot = snapshots[read++];
          if (matches(snapshot)) {
            finish();
            done(snapshot);
            return;
          }
        }
        if (errors.length) {
          finish();
          fail(errors[errors.length - 1]);
        }
      };
      const timer = setTimeout(() => {
        finish();
        fail(new Error(`no ${what} in ${ms / 1000} s; had ${JSON.stringify(snapshots)}`));
      }, ms);
      const finish = () => {
        clearTimeout(timer);
        waiting.delete(check);
      };
      waiting.add(check);
      check();
    });
  }

  /** The error the watch ends with. */
  function error() {
    return new Promise((done, fail) => {
      const check = () => {
        if (!errors.length) return;
        finish();
        done(errors[0]);
      };
      const timer = setTimeout(() => {
        finish();
        fail(new Error(`no error in ${WAIT_MS / 1000} s; had ${JSON.stringify(snapshots)}`));
      }, WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        waiting.delete(check);
      };
      waiting.add(check);
      check();
    });
  }

  return {
    snapshots,
    errors,
    next: () => until(),
    until,
    error,
    close: () => {
      open.delete(watcher);
      return watcher.close();
    },
    /** asserts that nothing more came within `ms` */
    async quiet(ms = 300) {
      const had = snapshots.length;
      await new Promise((done) => setTimeout(done, ms));
      assert.deepEqual(snapshots.slice(had), [], "nothing more was expected");
    },
  };
}

/** A snapshot's changes as [dataType, queueType, docId] lists. */
export function changes(snapshot) {
  return snapshot.docChanges.map((change) => [change.dataType, change.queueType, change.docId]);
}
