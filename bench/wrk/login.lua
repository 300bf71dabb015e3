-- POST {"appid": BENCH_APPID, "code": <next code>} to the URL given to wrk. Codes are single-use:
-- thread k of n takes lines k, k+n, k+2n ... of BENCH_IDS, so no code is sent twice.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local codes = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   if line ~= "" then
      codes[#codes + 1] = line
   end
end
local appid = os.getenv("BENCH_APPID")
local headers = common.headers()
headers["Content-Type"] = "application/json"
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("first", threads)
   common.setup(thread)
end

done = common.done

function init(args)
   step = tonumber(os.getenv("BENCH_THREADS") or "2")
   next_code = first
end

function request()
   local code = codes[next_code]
   if code == nil then
      wrk.thread:stop()
      code = "exhausted"
   end
   next_code = next_code + step
   return wrk.format("POST", nil, headers, '{"appid":"' .. appid .. '","code":"' .. code .. '"}')
end
