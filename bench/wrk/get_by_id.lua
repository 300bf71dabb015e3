-- GET <BENCH_PATH><id>, the id picked at random from the file BENCH_IDS (one id a line).
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local prefix = os.getenv("BENCH_PATH")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   if line ~= "" then
      ids[#ids + 1] = line
   end
end
local headers = common.headers()

setup = common.setup
done = common.done

function init(args)
   math.randomseed(bench_seed or 1)
end

function request()
   return wrk.format("GET", prefix .. ids[math.random(#ids)], headers)
end
