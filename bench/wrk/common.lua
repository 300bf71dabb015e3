-- Shared by the scenario scripts: the Authorization header from BENCH_AUTH, the users of
-- BENCH_USERS, a per-thread random seed, and a one-line JSON summary (BENCH_RESULT ...) that
-- bench/run.py reads.
local common = {}

-- In a create body of BENCH_BODY, replaced by the user's id when there are BENCH_USERS.
common.OWNER = "@owner@"

function common.headers()
   local headers = {}
   local auth = os.getenv("BENCH_AUTH")
   if auth and auth ~= "" then
      headers["Authorization"] = auth
   end
   local content_type = os.getenv("BENCH_CONTENT_TYPE")
   if content_type and content_type ~= "" then
      headers["Content-Type"] = content_type
   end
   return headers
end

-- The users of the file BENCH_USERS (a line each: the Authorization value, a tab, the user's
-- id) as a list of {id = ..., headers = ...}, or nil when BENCH_USERS is not set.
function common.users()
   local path = os.getenv("BENCH_USERS")
   if not path or path == "" then
      return nil
   end
   local users = {}
   for line in io.lines(path) do
      local auth, id = line:match("^([^\t]+)\t(.+)$")
      if auth then
         local headers = common.headers()
         headers["Authorization"] = auth
         users[#users + 1] = {id = id, headers = headers}
      end
   end
   return users
end

local threads = 0

-- setup() runs once per thread on the main state: give each thread its own fixed seed.
function common.setup(thread)
   threads = threads + 1
   thread:set("bench_seed", 1000 + threads)
end

-- init() of a script that picks at random: the thread's seed.
function common.init(args)
   math.randomseed(bench_seed or 1)
end

function common.done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99)))
end

return common
